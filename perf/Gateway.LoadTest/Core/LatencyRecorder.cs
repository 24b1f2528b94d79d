namespace Gateway.LoadTest.Core;

/// <summary>
/// Records latency samples (Stopwatch ticks) into pre-allocated long arrays owned by one worker
/// (a virtual user or a connection's receive loop): no lock, no allocation until a chunk fills
/// (chunks double up to 1 Mi samples). Merged and sorted once at the end for exact percentiles.
/// A process-wide budget bounds memory: past it, samples are counted but not stored.
/// </summary>
public sealed class LatencyRecorder
{
    /// <summary>At most this many samples are stored over the whole run (8 bytes each: 512 MiB).</summary>
    public static long SampleBudget = 64L * 1024 * 1024;
    private static long s_reserved;
    private static long s_allocatedBytes;

    /// <summary>Bytes of sample arrays allocated so far, process-wide (so reports can tell sample storage from garbage).</summary>
    public static long AllocatedBytes => Interlocked.Read(ref s_allocatedBytes);

    private readonly List<long[]> _full = [];
    private long[] _current;
    private int _count;
    private bool _overBudget;
    private readonly int _maxChunk;

    /// <param name="maxChunk">
    /// The largest chunk growth allocates. Recorders that are many and small (one per fanout subscriber)
    /// keep it at 8 Ki samples (64 KiB), under the large object heap's threshold, so growing never costs a Gen2 GC.
    /// </param>
    public LatencyRecorder(int initialCapacity = 1024, int maxChunk = 1 << 20)
    {
        initialCapacity = Math.Max(16, initialCapacity);
        _maxChunk = Math.Max(initialCapacity, maxChunk);
        Interlocked.Add(ref s_reserved, initialCapacity);
        Interlocked.Add(ref s_allocatedBytes, initialCapacity * 8L);
        _current = new long[initialCapacity];
    }

    public long Stored { get; private set; }
    /// <summary>Samples seen but not stored because the budget was used up.</summary>
    public long Dropped { get; private set; }
    public long Min { get; private set; } = long.MaxValue;
    public long Max { get; private set; }
    public double Sum { get; private set; }

    public void Record(long ticks)
    {
        if (ticks < 0) ticks = 0;
        if (ticks < Min) Min = ticks;
        if (ticks > Max) Max = ticks;
        Sum += ticks;
        if (_count == _current.Length && !Grow()) { Dropped++; return; }
        _current[_count++] = ticks;
        Stored++;
    }

    private bool Grow()
    {
        if (_overBudget) return false;
        int next = Math.Min(_current.Length * 2, _maxChunk);
        if (Interlocked.Add(ref s_reserved, next) > SampleBudget)
        {
            _overBudget = true;
            return false;
        }
        _full.Add(_current);
        Interlocked.Add(ref s_allocatedBytes, next * 8L);
        _current = new long[next];
        _count = 0;
        return true;
    }

    public void CopyTo(long[] destination, ref int offset)
    {
        foreach (var chunk in _full)
        {
            chunk.CopyTo(destination, offset);
            offset += chunk.Length;
        }
        Array.Copy(_current, 0, destination, offset, _count);
        offset += _count;
    }

    /// <summary>Merges the recorders into exact percentiles, in microseconds.</summary>
    public static LatencySummary Summarize(IEnumerable<LatencyRecorder> recorders)
    {
        var list = recorders.ToList();
        long stored = list.Sum(r => r.Stored);
        long dropped = list.Sum(r => r.Dropped);
        long count = stored + dropped;
        if (count == 0) return LatencySummary.Empty;
        var all = new long[stored];
        int offset = 0;
        foreach (var r in list) r.CopyTo(all, ref offset);
        Array.Sort(all);
        double toUs = 1_000_000.0 / System.Diagnostics.Stopwatch.Frequency;
        double P(double q)
        {
            if (all.Length == 0) return 0;
            // Nearest-rank percentile: the smallest sample with at least q of the samples at or below it.
            long rank = (long)Math.Ceiling(q * all.Length);
            rank = Math.Clamp(rank, 1, all.Length);
            return all[rank - 1] * toUs;
        }
        return new LatencySummary(
            Count: count,
            Stored: stored,
            MinUs: list.Where(r => r.Stored + r.Dropped > 0).Min(r => r.Min) * toUs,
            MeanUs: list.Sum(r => r.Sum) / count * toUs,
            P50Us: P(0.50), P75Us: P(0.75), P95Us: P(0.95), P99Us: P(0.99), P999Us: P(0.999),
            MaxUs: list.Max(r => r.Max) * toUs);
    }
}

public sealed record LatencySummary(long Count, long Stored, double MinUs, double MeanUs,
    double P50Us, double P75Us, double P95Us, double P99Us, double P999Us, double MaxUs)
{
    public static readonly LatencySummary Empty = new(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}
