using System.Net;
using System.Reflection;
using Gateway.Server;
using Gateway.Server.Options;
using Gateway.Server.Rpc;
using Gateway.Server.WebSockets;
using Gateway.Tests.Shared;

namespace Gateway.Policy.Tests;

/// <summary>
/// A real gateway on 127.0.0.1 and a free port serving <see cref="TestService"/> at /ws (and the echo endpoint at
/// /echo), built the way perf/Gateway.Benchmarks/RpcRoundTripBenchmarks.cs builds its RpcApplication.
/// Unlike <see cref="TestGateway"/>, the RpcApplication and the server share one <see cref="GatewayMetrics"/>
/// (as the host wires them), so RPC counters (RateLimited, DeadlinesExceeded, InternalErrors) and transport
/// counters (FramesDropped, ClientTimeouts, ...) are read from the same object. The RPC limits come from the
/// same <see cref="GatewayOptions"/> the server uses. Defaults mirror TestGateway's short timeouts, plus a short
/// Timeouts:Shutdown so disposing never waits long for a test's leftover calls.
/// </summary>
public sealed class PolicyGateway : IAsyncDisposable
{
    private PolicyGateway(GatewayServer server, GatewayOptions options, GatewayMetrics metrics, TestService service, LogCapture logs)
    {
        Logs = logs;
        Server = server;
        Options = options;
        Metrics = metrics;
        Service = service;
    }

    public GatewayServer Server { get; }
    public GatewayOptions Options { get; }
    public GatewayMetrics Metrics { get; }
    public TestService Service { get; }
    /// <summary>Every line the server and the RPC application wrote at Information or above (what a default host writes).</summary>
    public LogCapture Logs { get; }
    public IPEndPoint EndPoint => Server.BoundEndPoints[0];

    public static async Task<PolicyGateway> StartAsync(Action<GatewayOptions>? configure = null)
    {
        var options = new GatewayOptions
        {
            Listen = ["127.0.0.1:0"],
            EchoPath = "/echo",
        };
        options.Timeouts.Handshake = TimeSpan.FromSeconds(5);
        options.Timeouts.Close = TimeSpan.FromSeconds(2);
        options.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(50);
        options.Timeouts.Shutdown = TimeSpan.FromSeconds(1);
        configure?.Invoke(options);

        var metrics = new GatewayMetrics();
        var logs = new LogCapture();
        var service = new TestService();
        var json = options.Json.ToSerializerOptions();
        var procedures = typeof(TestService).GetMethods()
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<ProcedureAttribute>(inherit: false)))
            .Where(p => p.Attribute is not null)
            .Select(p => ProcedureDescriptor.Analyze("policy-tests", typeof(TestService), "t", p.Method, p.Attribute!, json).Bind(service, json))
            .ToList();
        var app = new RpcApplication(procedures, json, options.Limits.MaxInflightPerConnection, options.Limits.MaxBadMessages,
            logs.CreateLogger("Gateway.Rpc"), options.RateLimits, options.Timeouts.Request, metrics);
        var routes = new Dictionary<string, IWebSocketApplication>
        {
            [options.WebSocketPath] = app,
            [options.EchoPath!] = new EchoApplication(),
        };
        var server = new GatewayServer(options, routes, metrics, logs);
        await server.StartAsync();
        return new PolicyGateway(server, options, metrics, service, logs);
    }

    /// <summary>A raw client upgraded on the RPC endpoint.</summary>
    public Task<RawClient> OpenRawAsync() => RawClient.OpenAsync(EndPoint, Options.WebSocketPath);

    /// <summary>A well-behaved RPC client (answers every ping, reads everything) on the RPC endpoint.</summary>
    public Task<NeighbourClient> OpenRpcAsync() => NeighbourClient.OpenAsync(EndPoint, Options.WebSocketPath);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Metrics.Dispose();
    }
}
