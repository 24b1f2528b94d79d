using Gateway.Server.Options;

namespace Gateway.Server.Rpc.Limits;

/// <summary>
/// The rate limits of one connection, checked on its read loop before a call starts: the connection's bucket,
/// then the procedure's. Only the read loop touches it, so it is a plain struct field with no locking.
/// </summary>
internal struct RateAdmission
{
    private TokenBucket _bucket;
    private readonly TokenBucket[]? _procedureBuckets;
    private readonly int _maxRejectionsInRow;
    private int _rejectedInRow;

    public RateAdmission(RateLimitsOptions limits, RateLimitOptions[] procedureLimits)
    {
        _bucket = new TokenBucket(limits.PerConnection);
        _maxRejectionsInRow = limits.MaxRejectionsInRow;
        if (procedureLimits.Length > 0)
        {
            _procedureBuckets = new TokenBucket[procedureLimits.Length];
            for (int i = 0; i < _procedureBuckets.Length; i++) _procedureBuckets[i] = new TokenBucket(procedureLimits[i]);
        }
    }

    /// <summary>Refusals in a row so far (reset by the next admitted call).</summary>
    public readonly int RejectedInRow => _rejectedInRow;

    /// <summary>Whether the refusals in a row reached RateLimits:MaxRejectionsInRow (the connection is then closed with 1008).</summary>
    public readonly bool IsAbusive => _maxRejectionsInRow > 0 && _rejectedInRow >= _maxRejectionsInRow;

    /// <summary>Takes a token for a call of the procedure in <paramref name="procedureSlot"/> (-1: none of its own).</summary>
    public bool TryAdmit(int procedureSlot, out TimeSpan retryAfter)
    {
        retryAfter = default;
        bool ok = !_bucket.Enabled || _bucket.TryTake(out retryAfter);
        if (ok && procedureSlot >= 0 && _procedureBuckets is { } buckets)
        {
            ok = buckets[procedureSlot].TryTake(out retryAfter);
            // Refused by its own limit: the call did not run, so it must not use up the connection's budget.
            if (!ok && _bucket.Enabled) _bucket.Refund();
        }
        if (ok) _rejectedInRow = 0;
        else _rejectedInRow++;
        return ok;
    }
}
