using Gateway.Server.Options;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Server.Hosting;

public static class GatewayServiceCollectionExtensions
{
    /// <summary>
    /// Registers the gateway: options bound from the "Gateway" section and validated at startup (a bad value
    /// stops the host with a message naming the key), the metrics, the socket server and its hosted service.
    /// </summary>
    public static IServiceCollection AddGateway(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<GatewayOptions>()
            .Bind(configuration.GetSection(GatewayOptions.SectionName), o => o.ErrorOnUnknownConfiguration = true)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<GatewayOptions>>().Value;
            var routes = new Dictionary<string, IWebSocketApplication>(StringComparer.Ordinal);
            foreach (var endpoint in sp.GetServices<WebSocketEndpoint>()) routes[endpoint.Path(options)] = endpoint.Application(sp);
            if (!string.IsNullOrEmpty(options.EchoPath)) routes[options.EchoPath] = new EchoApplication();
            return new GatewayServer(options, routes, sp.GetRequiredService<GatewayMetrics>(), sp.GetRequiredService<ILoggerFactory>());
        });
        services.AddHostedService<GatewayHostedService>();
        return services;
    }
}

/// <summary>Maps a WebSocket path (read from the options) to an application; how the RPC layer plugs in.</summary>
public sealed record WebSocketEndpoint(Func<GatewayOptions, string> Path, Func<IServiceProvider, IWebSocketApplication> Application);

/// <summary>Runs the <see cref="GatewayServer"/> inside the generic host: start with the host, stop on SIGTERM/Ctrl+C.</summary>
internal sealed class GatewayHostedService(GatewayServer server) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => server.StartAsync(cancellationToken);
    public Task StopAsync(CancellationToken cancellationToken) => server.StopAsync(cancellationToken);
}
