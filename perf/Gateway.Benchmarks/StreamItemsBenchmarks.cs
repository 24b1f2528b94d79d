using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using BenchmarkDotNet.Attributes;
using Gateway.Server;
using Gateway.Server.Options;
using Gateway.Server.Rpc;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

public struct StreamCount
{
    public int N { get; set; }
}

public sealed class StreamTick
{
    public int I { get; set; }
}

[RpcService("benchs")]
public sealed class StreamBenchService
{
    // Made once: echo/count's `new Tick(i)` is the handler's allocation, not the gateway's, and a struct item would be
    // boxed by System.Text.Json's reflection-based object converter (24 B an item, also not the gateway's).
    private static readonly StreamTick[] s_ticks = Enumerable.Range(0, StreamItemsBenchmarks.Items).Select(i => new StreamTick { I = i }).ToArray();

    /// <summary>echo/count's shape with items made in advance, so the handler itself allocates nothing per item.</summary>
    [Subscription("count")]
    public async IAsyncEnumerable<StreamTick> Count(StreamCount input, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (int i = 0; i < input.N; i++) yield return s_ticks[i % s_ticks.Length];
        await Task.CompletedTask;
    }

    internal static List<Procedure> Procedures(System.Text.Json.JsonSerializerOptions json) => typeof(StreamBenchService).GetMethods()
        .Where(m => m.GetCustomAttributes(typeof(ProcedureAttribute), false).Length > 0)
        .Select(m => ProcedureDescriptor.Analyze("bench", typeof(StreamBenchService), "benchs", m,
            (ProcedureAttribute)m.GetCustomAttributes(typeof(ProcedureAttribute), false)[0], json).Bind(new StreamBenchService(), json))
        .ToList();
}

/// <summary>
/// One subscription of <see cref="Items"/> items over loopback through the whole server (the stream case of
/// perf/bench-compare.sh in miniature): subscribe, items serialized and batched (StreamBatch), outbox, socket, done.
/// Reported per item (OperationsPerInvoke): the time, and what the gateway's own path allocates per item; the
/// per-subscription objects (the iterator, the stream's task, its batch) are spread over the items.
/// </summary>
[MemoryDiagnoser]
public class StreamItemsBenchmarks
{
    public const int Items = 1000;
    private GatewayServer _server = null!;
    private Socket _socket = null!;
    private byte[] _subscribe = null!;
    private readonly byte[] _receive = new byte[256 * 1024];
    private int _streamBytes;
    private static readonly byte[] s_done = Encoding.UTF8.GetBytes("{\"id\":1,\"data\":null,\"done\":true}");

    [GlobalSetup]
    public void Setup()
    {
        var json = new JsonOptions().ToSerializerOptions();
        var rpc = new RpcApplication(StreamBenchService.Procedures(json), json, maxInflight: 256, maxBadMessages: 10, NullLogger.Instance);
        var options = new GatewayOptions { Listen = ["127.0.0.1:0"] };
        _server = new GatewayServer(options, new Dictionary<string, IWebSocketApplication> { ["/ws"] = rpc });
        _server.StartAsync().GetAwaiter().GetResult();
        _socket = Loopback.Open(_server.BoundEndPoints[0], "/ws");
        _subscribe = Loopback.Masked("{\"id\":1,\"path\":\"benchs/count\",\"input\":{\"n\":" + Items + "}}");

        // Learn the stream's length on the wire (every run is the same bytes) and check it: 1000 items in order, then done.
        _socket.Send(_subscribe);
        var all = new MemoryStream();
        while (true)
        {
            int n = _socket.Receive(_receive);
            if (n == 0) throw new InvalidOperationException("the server closed the connection");
            all.Write(_receive, 0, n);
            if (all.Length >= s_done.Length + 2 && all.GetBuffer().AsSpan(0, (int)all.Length).EndsWith(s_done)) break;
        }
        string text = Encoding.UTF8.GetString(all.GetBuffer(), 0, (int)all.Length);
        for (int i = 0; i < Items; i++)
            if (!text.Contains("{\"id\":1,\"data\":{\"i\":" + i + "}}")) throw new InvalidOperationException($"item {i} missing");
        _streamBytes = (int)all.Length;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _socket.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(OperationsPerInvoke = Items, Description = "echo/count-like stream, per item")]
    public int StreamItem()
    {
        _socket.Send(_subscribe);
        int read = 0;
        while (read < _streamBytes)
        {
            int n = _socket.Receive(_receive);
            if (n == 0) throw new InvalidOperationException("the server closed the connection");
            read += n;
        }
        return read;
    }
}
