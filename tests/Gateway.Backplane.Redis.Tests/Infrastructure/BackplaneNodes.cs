using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Gateway.Backplane.Redis.Tests.Infrastructure;

/// <summary>One started RedisBackplane and what it received.</summary>
public sealed record BackplaneNode(string Id, RedisBackplane Backplane, RecordingReceiver Receiver);

/// <summary>
/// RedisBackplane instances on one Redis under one fresh ChannelPrefix (so tests sharing a server never see each
/// other), with a short heartbeat and operation timeout; all disposed together.
/// </summary>
public sealed class BackplaneNodes : IAsyncDisposable
{
    public static readonly TimeSpan Heartbeat = TimeSpan.FromMilliseconds(200);
    public static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(1);

    private readonly List<BackplaneNode> _nodes = [];
    private readonly ILoggerFactory _logs;

    public BackplaneNodes(RedisServer redis, ITestOutputHelper output)
    {
        Redis = redis;
        Prefix = "t" + Guid.NewGuid().ToString("N")[..12];
        _logs = TestLogging.Factory(output, Clock);
    }

    public RedisServer Redis { get; }
    /// <summary>The time base of the logs, from this object's creation.</summary>
    public System.Diagnostics.Stopwatch Clock { get; } = System.Diagnostics.Stopwatch.StartNew();
    public string Prefix { get; }

    public RedisBackplaneOptions Options() => new()
    {
        Configuration = Redis.Configuration,
        ChannelPrefix = Prefix,
        HeartbeatInterval = Heartbeat,
        OperationTimeout = OperationTimeout,
    };

    public async Task<BackplaneNode> StartAsync(string id)
    {
        var backplane = new RedisBackplane(Options(), _logs.CreateLogger("Gateway.Backplane.Redis." + id));
        var receiver = new RecordingReceiver();
        var node = new BackplaneNode(id, backplane, receiver);
        _nodes.Add(node);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await backplane.StartAsync(id, receiver, cts.Token);
        return node;
    }

    public async ValueTask DisposeAsync()
    {
        // Every node is disposed even when one fails to; what was not expected of a node facing a dead Redis is
        // reported afterwards.
        var failures = new List<Exception>();
        foreach (var node in _nodes)
        {
            try { await node.Backplane.DisposeAsync(); }
            catch (Exception ex) when (ex is ObjectDisposedException or StackExchange.Redis.RedisException or TimeoutException) { }
            catch (Exception ex) { failures.Add(ex); }
        }
        _logs.Dispose();
        if (failures.Count > 0) throw new AggregateException("disposing the backplane nodes failed", failures);
    }
}
