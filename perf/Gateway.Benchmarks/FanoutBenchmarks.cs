using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Gateway.Server;
using Gateway.Server.Options;
using Gateway.Server.Rpc;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

/// <summary>
/// One topic publish to N subscribers through the whole server, over loopback: the publisher's request, the event
/// serialized once, queued on every subscriber, drained to every socket. An iteration ends when every subscriber
/// has read its event, so the time is the whole fan-out and the memory diagnoser (process-wide) counts what one
/// publish costs the server: the subscribers read with preallocated buffers and allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class FanoutBenchmarks
{
    // {"event":"tick","topic":"bench","data":42} in a 2-byte-header text frame.
    private const int EventFrameBytes = 2 + 42;

    [Params(10, 1000)]
    public int Subscribers { get; set; }

    private GatewayServer _server = null!;
    private Socket _publisher = null!;
    private Socket[] _subscribers = [];
    private byte[] _publishFrame = null!;
    private readonly byte[] _receive = new byte[4096];
    private long _received;
    private CancellationTokenSource _stop = null!;
    private Task[] _readers = [];

    [GlobalSetup]
    public void Setup()
    {
        var json = new JsonOptions().ToSerializerOptions();
        var topics = new TopicsOptions { ClientSubscribe = ["bench"], MaxSubscriptionsPerConnection = 10 };
        var rpc = new RpcApplication(BenchService.Procedures(json), json, maxInflight: 256, maxBadMessages: 10, NullLogger.Instance, topics: topics);
        var options = new GatewayOptions { Listen = ["127.0.0.1:0"] };
        _server = new GatewayServer(options, new Dictionary<string, IWebSocketApplication> { ["/ws"] = rpc });
        _server.StartAsync().GetAwaiter().GetResult();
        var ep = _server.BoundEndPoints[0];

        var subscribe = Loopback.Masked("{\"id\":1,\"path\":\"$subscribe\",\"input\":{\"topic\":\"bench\"}}");
        _subscribers = new Socket[Subscribers];
        for (int i = 0; i < Subscribers; i++)
        {
            _subscribers[i] = Loopback.Open(ep, "/ws");
            Loopback.Check(_subscribers[i], subscribe, "{\"id\":1,\"result\":{\"topic\":\"bench\",\"subscribed\":true}}", _receive);
        }
        _publisher = Loopback.Open(ep, "/ws");
        _publishFrame = Loopback.Masked("{\"id\":1,\"path\":\"bench/publish\"}");
        _stop = new CancellationTokenSource();
        _readers = _subscribers.Select(s => ReadLoopAsync(s, _stop.Token)).ToArray();
        // Check what a subscriber receives before measuring anything.
        Publish();
        if (Interlocked.Read(ref _received) != (long)Subscribers * EventFrameBytes)
            throw new InvalidOperationException($"received {_received} bytes, expected {Subscribers * EventFrameBytes}");
    }

    // One loop per subscriber, reusing its socket's cached awaitable: no allocation per read.
    private async Task ReadLoopAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (n == 0) return;
                Interlocked.Add(ref _received, n);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop.Cancel();
        foreach (var s in _subscribers) s.Dispose();
        _publisher.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Description = "publish to every subscriber, until all have read it")]
    public long Publish()
    {
        long target = Interlocked.Read(ref _received) + (long)Subscribers * EventFrameBytes;
        // The reply ({"id":1,"result":null}) comes once the event is queued on every subscriber.
        Loopback.RoundTrip(_publisher, _publishFrame, _receive);
        var spin = new SpinWait();
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + 10 * System.Diagnostics.Stopwatch.Frequency;
        while (Interlocked.Read(ref _received) < target)
        {
            if (System.Diagnostics.Stopwatch.GetTimestamp() > deadline)
                throw new InvalidOperationException($"the subscribers got {target - Interlocked.Read(ref _received)} bytes less than one event each within 10 s");
            spin.SpinOnce(sleep1Threshold: -1);
        }
        return target;
    }
}
