using Gateway.LoadTest.Reporting;

namespace Gateway.LoadTest.Core;

/// <summary>
/// One virtual user: runs the scenario's step again and again (closed model) or once per injection
/// (open model). Its counters and latency samples are its own: no sharing, no lock.
/// </summary>
public sealed class VirtualUser
{
    public VirtualUser(int index, int latencyCapacity)
    {
        Index = index;
        Latency = new LatencyRecorder(latencyCapacity);
    }

    public int Index { get; }
    /// <summary>What the scenario binds to this user (a request slot on a connection).</summary>
    public object? State { get; set; }

    // Everything since the start (for the live display).
    public long TotalSteps;
    public long TotalFailures;
    // Inside the measured window.
    public long Requests;
    public long Ok;
    public long Failed;
    public LatencyRecorder Latency { get; }
    public Dictionary<int, long>? Errors;

    internal int Running;
    /// <summary>Stopped for good (its connection is gone).</summary>
    internal volatile bool Retired;
    internal Net.AsyncSignal? Wake;
    internal Task? Loop;

    internal void AddError(int id)
    {
        Errors ??= [];
        Errors[id] = Errors.GetValueOrDefault(id) + 1;
    }
}

/// <summary>What the runner and the scenario share for one run.</summary>
public sealed class RunContext
{
    public required RunSettings Settings { get; init; }
    public Net.MeasureWindow Window { get; } = new();
    public required Action<string> Log { get; init; }
    public required CancellationToken Cancellation { get; init; }
}

/// <summary>
/// A load scenario: a name, a step (one request/response, one stream, one connect) and its load
/// simulations. New scenarios (fanout, ...) derive from this and register in <see cref="Cli.ScenarioCatalog"/>.
/// </summary>
public abstract class Scenario
{
    public abstract string Name { get; }
    /// <summary>What one step is called in reports ("requests", "subscriptions", "connects").</summary>
    public virtual string StepUnit => "requests";
    public abstract IReadOnlyList<LoadSimulation> Load { get; }
    /// <summary>How many virtual users to create (the most any simulation runs at once).</summary>
    public abstract int MaxCopies { get; }
    /// <summary>Parameters written in the reports, in order.</summary>
    public abstract IReadOnlyList<(string Name, string Value)> Parameters { get; }

    /// <summary>Before the server's "RSS before" is sampled (e.g. let a server settle).</summary>
    public virtual Task BeforeBaselineAsync(RunContext context) => Task.CompletedTask;
    /// <summary>Opens connections, builds request frames; the server's "RSS before" was sampled just before.</summary>
    public abstract Task InitAsync(RunContext context);
    public virtual void InitUser(VirtualUser user) { }
    /// <summary>One step. Must not allocate per call in steady state.</summary>
    public abstract ValueTask<StepResult> StepAsync(VirtualUser user);
    /// <summary>Called about four times a second while the load runs (request timeouts, keep-alives).</summary>
    public virtual void OnTick(long now) { }
    /// <summary>After the measured window closes, before the server's "RSS after" is sampled (e.g. hold idle connections).</summary>
    public virtual Task AfterLoadAsync(RunContext context) => Task.CompletedTask;
    public abstract Task CleanupAsync(RunContext context);

    /// <summary>Bytes on the wire so far (sampled at the window's start and end).</summary>
    public abstract (long In, long Out) Bytes();
    /// <summary>
    /// permessage-deflate (--deflate): frame bytes compression has saved so far (sampled with <see cref="Bytes"/>: what
    /// the wire would have carried uncompressed is Bytes() plus this) and how many connections negotiated it.
    /// </summary>
    public virtual (long In, long Out, int Connections) CompressionSaved() => (0, 0, 0);

    /// <summary>Sums <see cref="CompressionSaved"/> over <paramref name="connections"/> (null entries: not connected).</summary>
    protected static (long In, long Out, int Connections) SumCompression(IEnumerable<Net.WsConnection?> connections)
    {
        long i = 0, o = 0;
        int n = 0;
        foreach (var c in connections)
        {
            if (c is null) continue;
            i += Volatile.Read(ref c.ReceivedBytesSaved);
            o += Volatile.Read(ref c.SentBytesSaved);
            if (c.Compressed) n++;
        }
        return (i, o, n);
    }

    /// <summary>Extra live figures (open connections, items).</summary>
    public virtual IEnumerable<(string Name, string Value)> ProgressExtras() => [];
    /// <summary>Adds scenario-specific figures to the result.</summary>
    public virtual void Complete(ScenarioResult result, RunContext context) { }
}
