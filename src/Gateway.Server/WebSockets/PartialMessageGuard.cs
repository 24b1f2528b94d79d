using Gateway.Protocol.WebSockets;
using Gateway.Server.Connections;
using Gateway.Server.Options;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.WebSockets;

/// <summary>
/// Caps the memory that incomplete messages hold across all connections (Limits:MaxPartialMessageBytesTotal).
/// Each reader grows its reassembly buffer only with bytes that arrived, so a sender pays for what it pins; this cap
/// bounds the sum, so many such senders together cannot exhaust a heap limit. Over the cap the connections holding the
/// most are closed with 1009 (their message cannot be taken in), largest first, until the rest fits: a normal client
/// holding little is the last to go. Also feeds the /metrics gauges of session memory.
/// </summary>
internal sealed class PartialMessageGuard
{
    private readonly ConnectionRegistry _registry;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _log;
    private readonly object _gate = new();
    // Bytes held by sessions already closed for the cap whose read loops have not let go yet: not counted twice.
    private long _doomedBytes;

    public PartialMessageGuard(LimitsOptions limits, ConnectionRegistry registry, GatewayMetrics metrics, ILogger log)
    {
        _registry = registry;
        _metrics = metrics;
        _log = log;
        LimitBytes = limits.EffectiveMaxPartialMessageBytesTotal;
        metrics.ObserveSessionMemory(() => Budget.HeldBytes, SumUnsentBytes);
        Log.PartialMessageCap(log, LimitBytes, limits.MaxPartialMessageBytesTotal > 0 ? "" : ", automatic: a quarter of the memory available to the GC");
    }

    public ReassemblyBudget Budget { get; } = new();
    public long LimitBytes { get; }

    /// <summary>Two reads: cheap enough for the end of every read batch.</summary>
    public bool IsOver => Budget.HeldBytes - Volatile.Read(ref _doomedBytes) > LimitBytes;

    /// <summary>Closes the largest holders until the rest is under the cap. Rare (only over the cap), so a scan of all sessions is fine.</summary>
    public void Enforce()
    {
        lock (_gate)
        {
            long excess = Budget.HeldBytes - Volatile.Read(ref _doomedBytes) - LimitBytes;
            if (excess <= 0) return;
            var holders = new List<(WebSocketSession Session, long Held)>();
            foreach (var c in _registry.Snapshot)
            {
                if (c.Session is { PartialEvicted: false } s && s.PartialMessageBytes is > 0 and var held) holders.Add((s, held));
            }
            holders.Sort(static (a, b) => b.Held.CompareTo(a.Held));
            foreach (var (session, held) in holders)
            {
                if (excess <= 0) break;
                if (!session.EvictForPartialMessages(held)) continue;
                Interlocked.Add(ref _doomedBytes, held);
                excess -= held;
                _metrics.PartialMessageClosed();
                if (_metrics.LogBudget.Allow(_log, LogLevel.Warning)) Log.PartialMessageCapClose(_log, session.Id, held, LimitBytes);
            }
        }
    }

    /// <summary>An evicted session's read loop let go of its buffer.</summary>
    public void Released(long doomedBytes) => Interlocked.Add(ref _doomedBytes, -doomedBytes);

    private long SumUnsentBytes()
    {
        long total = 0;
        foreach (var c in _registry.Snapshot)
        {
            if (c.Session is { } s) total += s.UnsentBytes;
        }
        return total;
    }
}
