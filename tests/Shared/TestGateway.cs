using System.Net;
using Gateway.Server;
using Gateway.Server.Options;
using Gateway.Server.WebSockets;

namespace Gateway.Tests.Shared;

/// <summary>A real gateway on 127.0.0.1 and a free port, with the echo endpoint at /echo and short timeouts.</summary>
public sealed class TestGateway : IAsyncDisposable
{
    private TestGateway(GatewayServer server, GatewayOptions options)
    {
        Server = server;
        Options = options;
    }

    public GatewayServer Server { get; }
    public GatewayOptions Options { get; }
    public IPEndPoint EndPoint => Server.BoundEndPoints[0];
    public int Port => EndPoint.Port;
    public Uri WebSocketUri(string path = "/echo") => new($"ws://127.0.0.1:{Port}{path}");

    public static async Task<TestGateway> StartAsync(Action<GatewayOptions>? configure = null, IDictionary<string, IWebSocketApplication>? routes = null,
        Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null)
    {
        var options = new GatewayOptions
        {
            Listen = ["127.0.0.1:0"],
            EchoPath = "/echo",
        };
        options.Timeouts.Handshake = TimeSpan.FromSeconds(5);
        options.Timeouts.Close = TimeSpan.FromSeconds(2);
        options.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(50);
        configure?.Invoke(options);
        var map = new Dictionary<string, IWebSocketApplication>(routes ?? new Dictionary<string, IWebSocketApplication>());
        if (!string.IsNullOrEmpty(options.EchoPath)) map.TryAdd(options.EchoPath, new EchoApplication());
        var server = new GatewayServer(options, map, loggerFactory: loggerFactory);
        await server.StartAsync();
        return new TestGateway(server, options);
    }

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}
