using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using Gateway.Server;
using Gateway.Server.Options;
using Gateway.Server.Rpc;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

public sealed class BenchMsg
{
    public string? Text { get; set; }
}

public struct Pair
{
    public int A { get; set; }
    public int B { get; set; }
}

[RpcService("bench")]
public sealed class BenchService
{
    /// <summary>The sample's echo/echo shape: a class input with a string, returned unchanged.</summary>
    [Rpc("echo")]
    public ValueTask<BenchMsg> Echo(BenchMsg input, RpcContext context) => new(input);

    /// <summary>Struct in, int out: what the dispatcher itself costs when the handler's types allocate nothing.</summary>
    [Rpc("add")]
    public int Add(Pair input, RpcContext context) => input.A + input.B;

    /// <summary>The service's procedures, bound as the plugin loader binds a plugin's.</summary>
    internal static List<Procedure> Procedures(System.Text.Json.JsonSerializerOptions json) => typeof(BenchService).GetMethods()
        .Where(m => m.GetCustomAttributes(typeof(ProcedureAttribute), false).Length > 0)
        .Select(m => ProcedureDescriptor.Analyze("bench", typeof(BenchService), "bench", m,
            (ProcedureAttribute)m.GetCustomAttributes(typeof(ProcedureAttribute), false)[0], json).Bind(new BenchService(), json))
        .ToList();

    /// <summary>One event to every subscriber of topic "bench" (FanoutBenchmarks).</summary>
    [Rpc("publish")]
    public ValueTask Publish(RpcContext context) => context.Topics.PublishAsync("bench", "tick", 42);
}

/// <summary>
/// One request/response over loopback through the whole server: frame parse and unmask, envelope parse,
/// route lookup, input deserialization, handler, reply serialization, outbox, socket. The client is a
/// blocking socket with pre-built frames and a fixed receive buffer, so what the memory diagnoser counts
/// (process-wide) is the server's allocation per call. Baseline: the echo endpoint, i.e. the transport alone.
/// </summary>
[MemoryDiagnoser]
public class RpcRoundTripBenchmarks
{
    private GatewayServer _server = null!;
    private Socket _echo = null!, _rpc = null!;
    private byte[] _echoFrame = null!, _rpcEchoFrame = null!, _rpcAddFrame = null!;
    private readonly byte[] _receive = new byte[64 * 1024];

    [GlobalSetup]
    public void Setup()
    {
        var json = new JsonOptions().ToSerializerOptions();
        var rpc = new RpcApplication(BenchService.Procedures(json), json, maxInflight: 256, maxBadMessages: 10, NullLogger.Instance);
        var options = new GatewayOptions { Listen = ["127.0.0.1:0"], EchoPath = "/echo" };
        _server = new GatewayServer(options, new Dictionary<string, IWebSocketApplication> { ["/ws"] = rpc, ["/echo"] = new EchoApplication() });
        _server.StartAsync().GetAwaiter().GetResult();
        var ep = _server.BoundEndPoints[0];
        _echo = Open(ep, "/echo");
        _rpc = Open(ep, "/ws");

        // 64-byte input: {"text":"..."} padded to 64 bytes.
        string input = "{\"text\":\"" + new string('x', 64 - 11) + "\"}";
        _rpcEchoFrame = Masked("{\"id\":1,\"path\":\"bench/echo\",\"input\":" + input + "}");
        _rpcAddFrame = Masked("{\"id\":1,\"path\":\"bench/add\",\"input\":{\"a\":20,\"b\":22}}");
        _echoFrame = Masked("{\"id\":1,\"path\":\"bench/echo\",\"input\":" + input + "}");
        // Warm every path once and check the replies are what a client expects.
        Check(_rpc, _rpcEchoFrame, "{\"id\":1,\"result\":" + input + "}");
        Check(_rpc, _rpcAddFrame, "{\"id\":1,\"result\":42}");
        Check(_echo, _echoFrame, "{\"id\":1,\"path\":\"bench/echo\",\"input\":" + input + "}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _echo.Dispose();
        _rpc.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "transport echo (no RPC)")]
    public int TransportEcho() => RoundTrip(_echo, _echoFrame);

    [Benchmark(Description = "echo/echo, 64 B input")]
    public int RpcEcho() => RoundTrip(_rpc, _rpcEchoFrame);

    [Benchmark(Description = "bench/add, struct in/int out")]
    public int RpcAdd() => RoundTrip(_rpc, _rpcAddFrame);

    private int RoundTrip(Socket socket, byte[] frame) => Loopback.RoundTrip(socket, frame, _receive);

    private void Check(Socket socket, byte[] frame, string expected) => Loopback.Check(socket, frame, expected, _receive);

    private static Socket Open(IPEndPoint ep, string path) => Loopback.Open(ep, path);

    private static byte[] Masked(string text) => Loopback.Masked(text);
}
