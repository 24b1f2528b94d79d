using Gateway.Server.Hosting;
using Gateway.Server.Options;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serilog;

// appsettings.json is read from the working directory when it has one (make run, the container),
// else from next to the executable. Later sources win: environment variables
// (Gateway__Limits__MaxMessageBytes=...), then the command line (--Gateway:Limits:MaxMessageBytes=...).
string contentRoot = File.Exists(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"))
    ? Directory.GetCurrentDirectory()
    : AppContext.BaseDirectory;
// `Gateway.Host describe --plugins DIR`: the $describe document on stdout, nothing started (DescribeCommand).
if (args.Length > 0 && args[0] == "describe") return await DescribeCommand.RunAsync(args[1..], contentRoot);
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = contentRoot });

// Serilog is the only logging provider, configured from the "Serilog" section (appsettings.json); it is also
// Serilog's static Log.Logger, which the startup failure below writes to.
// Gateway:Logging:Format=Json writes the console as CLEF instead (Gateway.Host.GatewayLogging).
builder.Logging.ClearProviders();
var nodeIds = new Gateway.Host.NodeIdEnricher();
builder.Services.AddSerilog(logger => Gateway.Host.GatewayLogging.Configure(logger, builder.Configuration, nodeIds));

try
{
    builder.Services.AddGateway(builder.Configuration);
    // Gateway:Telemetry:Otlp: metrics pushed to an OpenTelemetry collector; nothing registered without it.
    Gateway.Host.GatewayTelemetry.Add(builder.Services, builder.Configuration, nodeIds);
    // Gateway:Backplane:Redis is checked whichever backplane is selected (appsettings.json carries one);
    // Gateway:Backplane:Type=Redis: several nodes share topics, users and connections (docs/scaling.md).
    // Any other value is left to the options validation, which names the key and the allowed values.
    Gateway.Backplane.Redis.RedisBackplaneServiceCollectionExtensions.AddRedisBackplaneOptions(builder.Services);
    if (string.Equals(builder.Configuration["Gateway:Backplane:Type"], "Redis", StringComparison.OrdinalIgnoreCase))
        Gateway.Backplane.Redis.RedisBackplaneServiceCollectionExtensions.AddRedisBackplane(builder.Services);
}
catch (Gateway.Server.Plugins.PluginLoadException ex)
{
    return PluginError(ex);
}
// The host must wait for the gateway's own graceful stop: in-flight calls (Timeouts:Shutdown), then the
// closing handshakes (Timeouts:Close); SIGTERM still ends in exit code 0.
builder.Services.AddOptions<HostOptions>().Configure<Microsoft.Extensions.Options.IOptions<GatewayOptions>>((host, gateway) =>
{
    try { host.ShutdownTimeout = gateway.Value.Timeouts.Shutdown + gateway.Value.Timeouts.Close + TimeSpan.FromSeconds(10); }
    catch (Exception) { host.ShutdownTimeout = TimeSpan.FromSeconds(45); }
});

try
{
    using var host = builder.Build();
    // Bind and validate before anything starts, so a bad value is one clear message, not a host failure trace.
    try
    {
        _ = host.Services.GetRequiredService<IOptions<GatewayOptions>>().Value;
        // Creating the server creates every plugin service and binds every procedure: fail here, not mid-start.
        _ = host.Services.GetRequiredService<Gateway.Server.GatewayServer>();
        // The node exists now (the server's RPC endpoint holds the push hub): every later line carries its id.
        nodeIds.SetNodeId(host.Services.GetRequiredService<Gateway.IConnections>().NodeId);
    }
    catch (Gateway.Server.Plugins.PluginLoadException ex)
    {
        return PluginError(ex);
    }
    catch (OptionsValidationException ex)
    {
        // Unknown keys, values of the wrong type or format, and out-of-range values (GatewayConfigurationReader, GatewayOptionsValidator).
        return ConfigError(ex.Failures);
    }
    catch (GatewayConfigurationException ex)
    {
        return ConfigError([ex.Message]);
    }
    try
    {
        await host.RunAsync();
    }
    catch (InvalidOperationException ex) when (ex.InnerException is System.Net.Sockets.SocketException)
    {
        // GatewayServer.StartAsync: an endpoint of Gateway:Listen cannot be bound (in use, no such address).
        // Written while the host (which owns the logger) still exists.
        Log.Fatal("Startup failed: {Message}", ex.Message);
        return 3;
    }
    return 0;
}
finally
{
    await Log.CloseAndFlushAsync();
}

int PluginError(Exception ex)
{
    Console.Error.WriteLine("A plugin cannot be used, the gateway did not start:");
    Console.Error.WriteLine("  " + ex.Message);
    return 2;
}

int ConfigError(IEnumerable<string> failures)
{
    Console.Error.WriteLine("Invalid configuration, the gateway did not start:");
    foreach (var failure in failures) Console.Error.WriteLine("  " + failure);
    return 2;
}
