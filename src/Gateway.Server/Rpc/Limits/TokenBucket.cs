using System.Diagnostics;
using Gateway.Server.Options;

namespace Gateway.Server.Rpc.Limits;

/// <summary>
/// A token bucket for one connection (or one connection and procedure). Only the connection's read loop
/// touches it, so it needs no synchronization and allocates nothing.
/// </summary>
internal struct TokenBucket
{
    private double _tokens;
    private long _last;
    private readonly double _ratePerTick;
    private readonly double _burst;

    public TokenBucket(RateLimitOptions options)
    {
        _burst = options.Burst;
        _tokens = options.Burst;
        _ratePerTick = options.PermitsPerSecond / Stopwatch.Frequency;
        _last = Stopwatch.GetTimestamp();
        Enabled = options.PermitsPerSecond > 0;
    }

    public bool Enabled { get; }

    /// <summary>Gives back a token taken for a call that was refused by another limit.</summary>
    public void Refund() => _tokens = Math.Min(_burst, _tokens + 1);

    /// <summary>Takes a token; false with the time until one is available when the bucket is empty.</summary>
    public bool TryTake(out TimeSpan retryAfter)
    {
        long now = Stopwatch.GetTimestamp();
        _tokens = Math.Min(_burst, _tokens + (now - _last) * _ratePerTick);
        _last = now;
        if (_tokens >= 1)
        {
            _tokens -= 1;
            retryAfter = default;
            return true;
        }
        retryAfter = TimeSpan.FromSeconds((1 - _tokens) / (_ratePerTick * Stopwatch.Frequency));
        return false;
    }
}
