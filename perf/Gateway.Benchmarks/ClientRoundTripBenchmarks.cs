using BenchmarkDotNet.Attributes;
using Gateway.Client;
using Gateway.Server;
using Gateway.Server.Options;
using Gateway.Server.Rpc;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

/// <summary>
/// One call through <see cref="GatewayClient"/> and a real in-process gateway over loopback: the client's envelope writing,
/// pending table, ClientWebSocket send and receive, envelope reading and result deserialization, plus the whole server
/// path. The memory diagnoser counts the process, i.e. client and server together. Each invocation awaits 1000 calls in
/// a row (the benchmark's own async loop costs one Task per invocation, well under a byte per call), with inputs
/// allocated once in the setup, so what remains per call is what the client and the server allocate themselves
/// plus the result object the caller asked for.
/// </summary>
[MemoryDiagnoser]
public class ClientRoundTripBenchmarks
{
    private const int Calls = 1000;
    private GatewayServer _server = null!;
    private GatewayClient _client = null!;
    private object _pair = null!;
    private BenchMsg _msg = null!;

    /// <summary>The client's wire format: both codecs are held to the same allocation budget.</summary>
    [Params(GatewayWireFormat.Json, GatewayWireFormat.MessagePack)]
    public GatewayWireFormat Format { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var json = new JsonOptions().ToSerializerOptions();
        var rpc = new RpcApplication(BenchService.Procedures(json), json, maxInflight: 256, maxBadMessages: 10, NullLogger.Instance);
        var options = new GatewayOptions { Listen = ["127.0.0.1:0"] };
        _server = new GatewayServer(options, new Dictionary<string, IWebSocketApplication> { ["/ws"] = rpc });
        _server.StartAsync().GetAwaiter().GetResult();
        _client = new GatewayClient(new Uri($"ws://127.0.0.1:{_server.BoundEndPoints[0].Port}/ws"), o => o.Format = Format);
        _client.ConnectAsync().GetAwaiter().GetResult();
        _pair = new Pair { A = 20, B = 22 };
        _msg = new BenchMsg { Text = new string('x', 53) };
        if (_client.CallAsync<int>("bench/add", _pair).AsTask().GetAwaiter().GetResult() != 42) throw new InvalidOperationException("bench/add is not 42");
        if (_client.CallAsync<BenchMsg>("bench/echo", _msg).AsTask().GetAwaiter().GetResult()?.Text != _msg.Text) throw new InvalidOperationException("bench/echo changed its input");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(OperationsPerInvoke = Calls, Description = "CallAsync<int> bench/add (struct input boxed once, int result)")]
    public async Task<int> Add()
    {
        int sum = 0;
        for (int i = 0; i < Calls; i++) sum += await _client.CallAsync<int>("bench/add", _pair);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Calls, Description = "CallAsync<BenchMsg> bench/echo (64 B input; result = a new BenchMsg and its string)")]
    public async Task<int> Echo()
    {
        int length = 0;
        for (int i = 0; i < Calls; i++) length += (await _client.CallAsync<BenchMsg>("bench/echo", _msg)).Text!.Length;
        return length;
    }
}
