using System.Diagnostics;

namespace Gateway.Server;

/// <summary>
/// One procedure's calls by result code and its latency histogram: plain <see cref="Interlocked"/> cells allocated at
/// startup, so counting a call allocates nothing. Code cell 0 is OK, cell 1 + (int)ErrorCode the errors.
/// </summary>
internal sealed class ProcedureStats
{
    /// <summary>Upper bounds of the latency buckets, in seconds (Prometheus <c>le</c>); +Inf is implied.</summary>
    public static readonly double[] BucketSeconds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly long[] BucketTicks = Array.ConvertAll(BucketSeconds, s => (long)(s * Stopwatch.Frequency));
    public const int CodeCells = 14;

    private readonly long[] _codes = new long[CodeCells];
    private readonly long[] _buckets = new long[BucketSeconds.Length + 1];
    private long _durationTicks;

    public ProcedureStats(string name) => Name = name;

    public string Name { get; }

    /// <summary>A call answered before its handler ran (refused, input invalid): counted, not timed.</summary>
    public void Count(ErrorCode code) => Interlocked.Increment(ref _codes[1 + (int)code]);

    /// <summary>A call answered at once with success, no handler involved (the built-ins $ping and $describe).</summary>
    public void CountOk() => Interlocked.Increment(ref _codes[0]);

    /// <summary>A call that ran its handler ended: counted under its code and timed.</summary>
    public void Record(int codeCell, long elapsedTicks)
    {
        Interlocked.Increment(ref _codes[codeCell]);
        int b = 0;
        while (b < BucketTicks.Length && elapsedTicks > BucketTicks[b]) b++;
        Interlocked.Increment(ref _buckets[b]);
        Interlocked.Add(ref _durationTicks, elapsedTicks);
    }

    public long Calls(int codeCell) => Volatile.Read(ref _codes[codeCell]);
    public long Bucket(int index) => Volatile.Read(ref _buckets[index]);
    /// <summary>Calls timed: the histogram's count, summed at scrape time rather than kept as one more shared cell per call.</summary>
    public long Timed
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _buckets.Length; i++) sum += Volatile.Read(ref _buckets[i]);
            return sum;
        }
    }
    public double DurationSeconds => Volatile.Read(ref _durationTicks) / (double)Stopwatch.Frequency;

    /// <summary>The label of a code cell: OK or the wire name of the error.</summary>
    public static string CodeLabel(int cell) => cell == 0 ? "OK" : ((ErrorCode)(cell - 1)).WireName();
}
