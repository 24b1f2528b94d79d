using Microsoft.Extensions.Logging;

namespace Gateway.Server;

/// <summary>
/// Rate limit for the per-connection log lines a client can cause (bad handshakes, protocol errors, bad envelopes,
/// timeouts, aborted connections, handler failures...), so that a flood from hostile clients cannot fill the disk:
/// at most <c>Limits:ClientFaultLogsPerSecond</c> lines a second; what is suppressed is counted, reported by the
/// heartbeat (<see cref="TakeSuppressed"/>) and exported as <c>gateway_log_lines_suppressed_total</c>.
/// </summary>
internal sealed class ClientFaultLogBudget
{
    // The window (second) and the lines let through in it share one long, so a new window and its first line are
    // one atomic step and no window admits more than the limit.
    private long _windowAndCount;
    private long _suppressed, _suppressedTotal;

    /// <summary>Lines a second (Limits:ClientFaultLogsPerSecond); 0 = no limit.</summary>
    public int PerSecond { get; set; } = 20;

    /// <summary>Lines suppressed since start.</summary>
    public long SuppressedTotal => Volatile.Read(ref _suppressedTotal);

    /// <summary>
    /// True when a per-connection line at <paramref name="level"/> may be written now. A line the logger would
    /// not write (level disabled) is neither let through nor counted: it must not spend the budget that another
    /// client's visible lines need.
    /// </summary>
    public bool Allow(ILogger logger, LogLevel level)
    {
        if (!logger.IsEnabled(level)) return false;
        int limit = PerSecond;
        if (limit <= 0) return true;
        long second = Environment.TickCount64 / 1000;
        while (true)
        {
            long current = Volatile.Read(ref _windowAndCount);
            bool sameWindow = current >> 32 == second;
            if (sameWindow && (int)current >= limit)
            {
                Interlocked.Increment(ref _suppressed);
                Interlocked.Increment(ref _suppressedTotal);
                return false;
            }
            long next = sameWindow ? current + 1 : (second << 32) | 1;
            if (Interlocked.CompareExchange(ref _windowAndCount, next, current) == current) return true;
        }
    }

    /// <summary>Lines suppressed since the last call (the heartbeat reports them).</summary>
    public long TakeSuppressed() => Interlocked.Exchange(ref _suppressed, 0);
}
