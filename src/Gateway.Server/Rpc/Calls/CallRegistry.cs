using Gateway.Server.Codec;

namespace Gateway.Server.Rpc;

/// <summary>
/// The calls of one connection: a small pool of call objects, the running asynchronous ones (for cancel by id,
/// disconnect, shutdown and deadlines), the in-flight count and the waits on it (a free slot, no call left).
/// </summary>
internal sealed class CallRegistry(RpcConnection owner, int maxInflight)
{
    // Every asynchronous call, and those with an id by id (for cancel). Both guarded by Gate, and made by the first call
    // that does not finish synchronously: an idle connection (or one whose calls all complete inline) holds neither.
    private HashSet<RpcCall>? _running;
    private Dictionary<string, RpcCall>? _byId;
    // Its array comes with the first call that ends.
    private readonly Stack<RpcCall> _pool = new();
    private int _inflight;
    private int _withDeadline;
    private bool _closed;
    private volatile bool _draining;
    private TaskCompletionSource? _slotWaiter;
    private TaskCompletionSource? _idleWaiter;

    /// <summary>Guards the running calls; held by the deadline sweep while it walks them.</summary>
    internal object Gate => this;
    /// <summary>The running asynchronous calls, null before the first: read only under <see cref="Gate"/>.</summary>
    internal HashSet<RpcCall>? RunningUnderGate => _running;
    /// <summary>Whether any running call has a deadline (read without the lock by the heartbeat's sweep).</summary>
    public bool AnyDeadline => Volatile.Read(ref _withDeadline) != 0;

    public int InflightCount => Volatile.Read(ref _inflight);
    public bool Draining => _draining;

    public RpcCall Begin(Procedure procedure, in RequestId id, in Gateway.Protocol.Rpc.Envelope envelope)
    {
        bool hasId = envelope.HasId;
        RpcCall? call = null;
        lock (_pool)
        {
            if (_pool.Count > 0) call = _pool.Pop();
        }
        call ??= new RpcCall(owner);
        call.Start(procedure, id, hasId);
        // Tracing: one volatile read when nothing listens; the span (and reading meta) only when something does.
        if (GatewayTracing.Source.HasListeners()) call.Activity = GatewayTracing.StartCall(owner, procedure, hasId, envelope);
        Interlocked.Increment(ref _inflight);
        return call;
    }

    /// <summary>The handler did not finish synchronously: make it cancellable by id and by disconnect.</summary>
    public void Track(RpcCall call)
    {
        string key = call.Pin();
        bool closed;
        lock (Gate)
        {
            closed = _closed;
            if (!closed)
            {
                (_running ??= new(ReferenceEqualityComparer.Instance)).Add(call);
                // Ids must be unique among in-flight calls; a duplicate still runs (and is cancelled by disconnect)
                // but a cancel reaches the first one only.
                if (call.HasId) (_byId ??= new(StringComparer.Ordinal)).TryAdd(key, call);
            }
            if (HasDeadline(call.Procedure))
            {
                call.Deadline = Environment.TickCount64 + call.Procedure.DeadlineMs;
                _withDeadline++;
            }
        }
        if (closed) call.Abort();
    }

    public void End(RpcCall call)
    {
        if (call.Key is { } key)
        {
            lock (Gate)
            {
                _running?.Remove(call);
                if (_byId is not null && _byId.TryGetValue(key, out var tracked) && ReferenceEquals(tracked, call)) _byId.Remove(key);
                if (HasDeadline(call.Procedure)) _withDeadline--;
            }
        }
        // After the lock: a deadline's outcome, recorded under it by the heartbeat, is visible here.
        int outcome = call.OutcomeCell;
        call.Procedure.Stats.Record(outcome, System.Diagnostics.Stopwatch.GetTimestamp() - call.StartTimestamp);
        if (call.Activity is { } activity) GatewayTracing.EndCall(activity, outcome);
        call.Reset();
        lock (_pool)
        {
            if (_pool.Count < 4) _pool.Push(call);
        }
        int left = Interlocked.Decrement(ref _inflight);
        if (left < maxInflight) Interlocked.Exchange(ref _slotWaiter, null)?.TrySetResult();
        if (left == 0 && _draining) Interlocked.Exchange(ref _idleWaiter, null)?.TrySetResult();
    }

    private static bool HasDeadline(Procedure procedure) => procedure.DeadlineMs > 0 && procedure.Kind != ProcedureKind.Subscription;

    /// <summary>The running call with this id, if any (unknown ids: the call may have finished, its reply on the way).</summary>
    public RpcCall? Find(string key)
    {
        lock (Gate) return _byId is not null && _byId.TryGetValue(key, out var call) ? call : null;
    }

    public RpcCall[] Running()
    {
        lock (Gate) return _running?.ToArray() ?? [];
    }

    /// <summary>Completes when fewer than the limit of calls are running (the read loop waits here: backpressure).</summary>
    public Task WaitForSlotAsync()
    {
        if (Volatile.Read(ref _inflight) < maxInflight) return Task.CompletedTask;
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _slotWaiter, tcs);
        // A call may have ended between the check and publishing the waiter.
        if (Volatile.Read(ref _inflight) < maxInflight) Interlocked.Exchange(ref _slotWaiter, null)?.TrySetResult();
        return tcs.Task;
    }

    /// <summary>Shutdown: marks the connection draining; completes when no call is running.</summary>
    public Task DrainAsync()
    {
        _draining = true;
        if (Volatile.Read(ref _inflight) == 0) return Task.CompletedTask;
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _idleWaiter, tcs);
        if (Volatile.Read(ref _inflight) == 0) tcs.TrySetResult();
        return tcs.Task;
    }

    /// <summary>The connection is gone: no call is tracked any more; hands back the running ones (for their tokens to fire).</summary>
    public RpcCall[] Close()
    {
        lock (Gate)
        {
            _closed = true;
            return _running?.ToArray() ?? [];
        }
    }

    /// <summary>Frees a read loop parked at the in-flight limit (it then sees the connection closed).</summary>
    public void ReleaseSlotWaiter() => Interlocked.Exchange(ref _slotWaiter, null)?.TrySetResult();
}
