using Gateway.Backplane;
using Gateway.Server.Options;
using Gateway.Server.Plugins;
using Gateway.Server.Push;
using Gateway.Server.Rpc;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Server.Hosting;

public static class GatewayServiceCollectionExtensions
{
    /// <summary>
    /// Registers the gateway: options bound from the "Gateway" section and validated at startup (a bad value
    /// stops the host with a message naming the key), the push hub (<see cref="ITopics"/>, <see cref="IConnections"/>)
    /// over the backplane (in memory unless another <see cref="IBackplane"/> is registered, e.g. by AddRedisBackplane),
    /// the plugins found under Gateway:Plugins:Path (loaded now, so their services join this collection), the RPC
    /// endpoint, the socket server and its hosted service. Throws <see cref="PluginLoadException"/> when a plugin cannot be used.
    /// </summary>
    public static IServiceCollection AddGateway(this IServiceCollection services, IConfiguration configuration)
    {
        // Not the binder's Bind(): its errors name CLR types and read a bare number as days (GatewayConfigurationReader).
        // The brokers' sections (Gateway:Backplane:Redis) are checked with the rest: their assemblies register them.
        services.AddOptions<GatewayOptions>()
            .Configure<IEnumerable<BackplaneOptionsSection>>((o, backplanes) =>
            {
                var errors = GatewayConfigurationReader.Bind(configuration.GetSection(GatewayOptions.SectionName), o, backplanes);
                if (errors.Count > 0) throw new OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(GatewayOptions), errors);
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        services.AddSingleton<GatewayMetrics>();
        // A generic host has registered its configuration already; a bare service collection (tests, embedding) gets
        // this one, so a backplane assembly binds its section from the configuration the gateway read.
        services.TryAddSingleton(configuration);
        // Plugins register services, so they are loaded while the collection is still open. Only the keys needed
        // here are read now; the whole section is validated when the options are first used.
        var json = JsonFor(configuration);
        services.TryAddSingleton<IBackplane>(_ => new InMemoryBackplane());
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<GatewayOptions>>().Value;
            var backplane = sp.GetRequiredService<IBackplane>();
            if (options.Backplane.Type == BackplaneType.Redis && backplane is InMemoryBackplane)
                throw new GatewayConfigurationException($"{GatewayOptions.SectionName}:Backplane:Type is Redis, but this host has no Redis backplane (Gateway.Backplane.Redis: services.AddRedisBackplane()).");
            return new PushHub(backplane, json, sp.GetRequiredService<GatewayMetrics>(),
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.Push"),
                options.Topics.MaxSubscriptionsPerConnection, options.Limits.MaxServerCallsPerConnection);
        });
        services.AddSingleton<ITopics>(sp => sp.GetRequiredService<PushHub>());
        services.AddSingleton<IConnections>(sp => sp.GetRequiredService<PushHub>());
        // Registered before the plugins load, so the gateway (backplane first, then the listener) starts before any
        // background service of a plugin and stops after them: a plugin's publishes always find the hub running.
        services.AddHostedService<GatewayHostedService>();

        string pluginPath = configuration[$"{GatewayOptions.SectionName}:Plugins:Path"] is { Length: > 0 } p ? p : "plugins";
        var catalog = PluginLoader.Load(pluginPath, services, configuration, json);
        services.AddSingleton(catalog);

        services.AddSingleton(sp => CreateRpcApplication(sp, catalog, json));
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<GatewayOptions>>().Value;
            var routes = new Dictionary<string, IWebSocketApplication>(StringComparer.Ordinal)
            {
                [options.WebSocketPath] = sp.GetRequiredService<RpcApplication>(),
            };
            if (!string.IsNullOrEmpty(options.EchoPath)) routes[options.EchoPath] = new EchoApplication();
            return new GatewayServer(options, routes, sp.GetRequiredService<GatewayMetrics>(), sp.GetRequiredService<ILoggerFactory>(),
                sp.GetServices<IConnectionAuthenticator>());
        });
        return services;
    }

    // One JsonSerializerOptions for plugins and the hub: type metadata is cached per instance.
    private static System.Text.Json.JsonSerializerOptions JsonFor(IConfiguration configuration) => new JsonOptions
    {
        PropertyNamingPolicy = configuration[$"{GatewayOptions.SectionName}:Json:PropertyNamingPolicy"] ?? "CamelCase",
        MaxDepth = int.TryParse(configuration[$"{GatewayOptions.SectionName}:Json:MaxDepth"], out var depth) ? depth : 64,
    }.ToSerializerOptions();

    private static RpcApplication CreateRpcApplication(IServiceProvider sp, PluginCatalog catalog, System.Text.Json.JsonSerializerOptions json)
    {
        var options = sp.GetRequiredService<IOptions<GatewayOptions>>().Value;
        var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.Rpc");
        if (!catalog.FolderExists) RpcLog.NoPluginFolder(logger, catalog.Folder);
        foreach (var plugin in catalog.Plugins) RpcLog.PluginLoaded(logger, plugin.Name, plugin.Folder);
        var procedures = new List<Procedure>();
        foreach (var d in catalog.Procedures)
        {
            object? service = null;
            if (!d.Method.IsStatic)
            {
                try { service = sp.GetRequiredService(d.ServiceType); }
                catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or System.Reflection.TargetInvocationException)
                {
                    var inner = ex is System.Reflection.TargetInvocationException { InnerException: { } ie } ? ie : ex;
                    throw new PluginLoadException($"plugin '{d.Plugin}', {d.ServiceType.FullName}: cannot be created: {inner.Message}", inner);
                }
            }
            procedures.Add(d.Bind(service, json));
            RpcLog.ProcedureBound(logger, d.Kind.ToString().ToLowerInvariant(), d.Name, d.InputTypeName, d.OutputTypeName, d.Plugin);
        }
        var known = procedures.Select(p => p.Name).Concat(["$subscribe", "$unsubscribe", "$auth"]).ToList();
        foreach (var name in options.RateLimits.Procedures.Keys)
        {
            if (!known.Contains(name))
                throw new GatewayConfigurationException($"{GatewayOptions.SectionName}:RateLimits:Procedures:{name} names no procedure (known: {string.Join(", ", known.Order())}).");
        }
        return new RpcApplication(procedures, json, options.Limits.MaxInflightPerConnection, options.Limits.MaxBadMessages, logger,
            options.RateLimits, options.Timeouts.Request, sp.GetRequiredService<GatewayMetrics>(),
            sp.GetRequiredService<PushHub>(), options.Topics, sp.GetServices<ITopicPolicy>());
    }
}

/// <summary>
/// Runs the gateway inside the generic host: the push hub joins the cluster (backplane), then the listener starts;
/// on SIGTERM/Ctrl+C the listener drains and closes first, then the node leaves the cluster.
/// </summary>
internal sealed class GatewayHostedService(GatewayServer server, PushHub hub) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await hub.StartAsync(cancellationToken).ConfigureAwait(false);
        await server.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try { await server.StopAsync(cancellationToken).ConfigureAwait(false); }
        finally { await hub.StopAsync(cancellationToken).ConfigureAwait(false); }
    }
}
