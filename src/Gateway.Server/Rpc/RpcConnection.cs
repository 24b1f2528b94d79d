using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.Rpc;
using Gateway.Protocol.WebSockets;
using Gateway.Server.Codec;
using Gateway.Server.Push;
using Gateway.Server.Rpc.Limits;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.Rpc;

/// <summary>
/// The RPC state of one connection: the in-flight limit, running asynchronous calls (for cancel and
/// for disconnect), a small pool of call objects, per-connection items and the reply writers.
/// </summary>
internal sealed class RpcConnection
{
    private readonly RpcApplication _app;
    // Every asynchronous call (for disconnect, shutdown and deadlines), and those with an id by id (for cancel).
    private readonly HashSet<RpcCall> _running = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, RpcCall> _calls = new(StringComparer.Ordinal);
    private readonly Stack<RpcCall> _pool = new(4);
    private Dictionary<string, object?>? _items;
    private int _inflight;
    private TaskCompletionSource? _slotWaiter;
    private int _badInARow;
    private volatile bool _closed;
    private RateAdmission _admission;
    private int _withDeadline;

    public RpcConnection(WebSocketSession session, RpcApplication app)
    {
        Session = session;
        _app = app;
        _admission = new RateAdmission(app.RateLimits, app.ProcedureLimits);
        if (app.HasDeadlines) session.Heartbeat = Tick;
        // Disconnect cancels every running handler at once, even if the read loop is parked at the in-flight limit.
        session.Closed.UnsafeRegister(static state => ((RpcConnection)state!).Close(), this);
    }

    /// <summary>
    /// Rate limits (<see cref="RateAdmission"/>), checked on the read loop before a call starts. Past
    /// RateLimits:MaxRejectionsInRow refusals in a row the connection is closed with 1008.
    /// </summary>
    public bool TryAdmit(Procedure? procedure, out TimeSpan retryAfter)
    {
        if (_admission.TryAdmit(procedure?.RateLimitSlot ?? -1, out retryAfter)) return true;
        _app.Metrics?.RateLimitHit();
        if (_admission.IsAbusive)
        {
            _app.Metrics?.RateLimitClose();
            if (MayLog(LogLevel.Warning)) RpcLog.Abuse(Log, Session.Id, _admission.RejectedInRow);
            Session.Close(CloseCodes.PolicyViolation, "rate limit exceeded repeatedly");
        }
        return false;
    }

    // Heartbeat tick: answer DEADLINE_EXCEEDED for calls past their deadline and fire their tokens. The claim
    // (TryFinish) and the id are taken under the lock, where a call cannot end and be reused from the pool.
    private void Tick(long now)
    {
        if (Volatile.Read(ref _withDeadline) == 0) return;
        List<(RequestId Id, bool Answer)>? expired = null;
        lock (_calls)
        {
            foreach (var call in _running)
            {
                if (call.Deadline == 0 || now < call.Deadline) continue;
                call.Deadline = 0;
                bool claimed = call.TryFinish();
                if (claimed) _app.Metrics?.DeadlineExceeded();
                // A notification is never answered, not even with an error.
                (expired ??= new()).Add((call.Id, claimed && call.HasId));
                call.Abort();
            }
        }
        if (expired is null) return;
        foreach (var (id, answer) in expired)
        {
            if (answer) SendError(id, ErrorCode.DeadlineExceeded, "the call did not finish within its deadline");
        }
    }

    public WebSocketSession Session { get; }
    public JsonSerializerOptions Json => _app.Json;
    public ILogger Log => _app.Logger;
    internal PushHub Hub => _app.Hub;

    private string? _connectionId;
    /// <summary>The cluster-wide id: this node's id, a dot, the session's number.</summary>
    public string ConnectionId => _connectionId ??= Hub.NodeId + "." + Session.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    // ---- push state: topics and user, guarded by _pushGate ------------------------------------

    private readonly object _pushGate = new();
    private HashSet<string>? _topics;
    private string? _userId;
    private volatile bool _unregistered;

    public bool IsUnregistered => _unregistered;

    public string? UserId
    {
        get => Volatile.Read(ref _userId);
        set
        {
            if (value is { Length: 0 or > 256 }) throw new ArgumentException("a user id is 1 to 256 characters, or null", nameof(value));
            // The local index changes now; the backplane registration finishes in the background.
            var pending = Hub.SetUserAsync(this, value);
            if (!pending.IsCompletedSuccessfully) _ = ObserveAsync(pending);
        }
    }

    private async Task ObserveAsync(ValueTask pending)
    {
        try { await pending.ConfigureAwait(false); }
        catch (Exception ex) { if (MayLog(LogLevel.Error)) RpcLog.HandlerFailed(Log, Session.Id, "(set user id)", ex); }
    }

    internal TopicAdd TryAddTopic(string topic, int max)
    {
        lock (_pushGate)
        {
            if (_unregistered) return TopicAdd.Closed;
            _topics ??= new HashSet<string>(StringComparer.Ordinal);
            if (_topics.Contains(topic)) return TopicAdd.Already;
            if (_topics.Count >= max) return TopicAdd.TooMany;
            _topics.Add(topic);
            return TopicAdd.Added;
        }
    }

    internal bool RemoveTopic(string topic)
    {
        lock (_pushGate) return !_unregistered && _topics is not null && _topics.Remove(topic);
    }

    public int TopicCount
    {
        get { lock (_pushGate) return _topics?.Count ?? 0; }
    }

    internal bool TrySwapUser(string? userId, out string? previous)
    {
        lock (_pushGate)
        {
            previous = _userId;
            if (_unregistered || string.Equals(previous, userId, StringComparison.Ordinal)) return false;
            Volatile.Write(ref _userId, userId);
            return true;
        }
    }

    /// <summary>Marks the connection gone for push and hands back what it was part of, for the hub to clean up.</summary>
    internal (string[] Topics, string? User) Unregister()
    {
        lock (_pushGate)
        {
            _unregistered = true;
            var topics = _topics is { Count: > 0 } set ? set.ToArray() : [];
            _topics = null;
            return (topics, _userId);
        }
    }
    public IDictionary<string, object?> Items
    {
        get
        {
            if (_items is null) Interlocked.CompareExchange(ref _items, new Dictionary<string, object?>(StringComparer.Ordinal), null);
            return _items;
        }
    }
    public int InflightCount => Volatile.Read(ref _inflight);

    // ---- calls -------------------------------------------------------------------------------

    public RpcCall BeginCall(Procedure procedure, in RequestId id, bool hasId)
    {
        RpcCall? call = null;
        lock (_pool)
        {
            if (_pool.Count > 0) call = _pool.Pop();
        }
        call ??= new RpcCall(this);
        call.Start(procedure, id, hasId);
        Interlocked.Increment(ref _inflight);
        return call;
    }

    /// <summary>The handler did not finish synchronously: make it cancellable by id and by disconnect.</summary>
    public void Track(RpcCall call)
    {
        string key = call.Pin();
        bool closed;
        lock (_calls)
        {
            closed = _closed;
            if (!closed)
            {
                _running.Add(call);
                // Ids must be unique among in-flight calls; a duplicate still runs (and is cancelled by disconnect)
                // but a cancel reaches the first one only.
                if (call.HasId) _calls.TryAdd(key, call);
            }
            if (call.Procedure.DeadlineMs > 0 && call.Procedure.Kind != ProcedureKind.Subscription)
            {
                call.Deadline = Environment.TickCount64 + call.Procedure.DeadlineMs;
                _withDeadline++;
            }
        }
        if (closed) call.Abort();
    }

    public void EndCall(RpcCall call)
    {
        if (call.Key is { } key)
        {
            lock (_calls)
            {
                _running.Remove(call);
                if (_calls.TryGetValue(key, out var tracked) && ReferenceEquals(tracked, call)) _calls.Remove(key);
                if (call.Procedure.DeadlineMs > 0 && call.Procedure.Kind != ProcedureKind.Subscription) _withDeadline--;
            }
        }
        call.Reset();
        lock (_pool)
        {
            if (_pool.Count < 4) _pool.Push(call);
        }
        int left = Interlocked.Decrement(ref _inflight);
        if (left < _app.MaxInflight)
        {
            Interlocked.Exchange(ref _slotWaiter, null)?.TrySetResult();
        }
        if (left == 0 && _draining) Interlocked.Exchange(ref _idleWaiter, null)?.TrySetResult();
    }

    private volatile bool _draining;
    private TaskCompletionSource? _idleWaiter;
    public bool Draining => _draining;

    /// <summary>Shutdown: new calls are refused, streams end with UNAVAILABLE; completes when no call is running.</summary>
    public Task DrainAsync()
    {
        _draining = true;
        RpcCall[] running;
        lock (_calls) running = _running.ToArray();
        foreach (var call in running)
        {
            if (call.Procedure.Kind == ProcedureKind.Subscription && call.TryFinish())
            {
                SendError(call.Id, ErrorCode.Unavailable, "server is shutting down; subscribe again");
                call.Abort();
            }
        }
        if (Volatile.Read(ref _inflight) == 0) return Task.CompletedTask;
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _idleWaiter, tcs);
        if (Volatile.Read(ref _inflight) == 0) tcs.TrySetResult();
        return tcs.Task;
    }

    /// <summary>
    /// Shutdown ran out of time (Timeouts:Shutdown): every call still running is answered UNAVAILABLE now, ahead
    /// of the 1001 that follows, so its caller knows to retry elsewhere rather than guess; its token fires.
    /// </summary>
    public void AbandonRunning()
    {
        RpcCall[] running;
        lock (_calls) running = _running.ToArray();
        foreach (var call in running)
        {
            if (call.HasId && call.TryFinish()) SendError(call.Id, ErrorCode.Unavailable, "server shut down before the call finished");
            call.Abort();
        }
    }

    /// <summary>Completes when fewer than the limit of calls are running (the read loop waits here: backpressure).</summary>
    public Task WaitForSlotAsync()
    {
        if (Volatile.Read(ref _inflight) < _app.MaxInflight) return Task.CompletedTask;
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _slotWaiter, tcs);
        // A call may have ended between the check and publishing the waiter.
        if (Volatile.Read(ref _inflight) < _app.MaxInflight) Interlocked.Exchange(ref _slotWaiter, null)?.TrySetResult();
        return tcs.Task;
    }

    public void Cancel(in ReadOnlySequence<byte> rawId)
    {
        string key = System.Text.EncodingExtensions.GetString(System.Text.Encoding.UTF8, rawId);
        RpcCall? call;
        lock (_calls)
        {
            _calls.TryGetValue(key, out call);
        }
        // Unknown ids are ignored: the call may have finished already (its reply is on the way).
        call?.CancelByClient();
    }

    /// <summary>The connection is gone: every running handler's token fires.</summary>
    public void Close()
    {
        RpcCall[] running;
        ServerCall[]? waiting = null;
        lock (_calls)
        {
            _closed = true;
            running = _running.ToArray();
            if (_serverCalls is { Count: > 0 })
            {
                waiting = _serverCalls.Values.ToArray();
                _serverCalls.Clear();
            }
        }
        foreach (var call in running) call.Abort();
        Interlocked.Exchange(ref _slotWaiter, null)?.TrySetResult();
        if (waiting is not null)
        {
            foreach (var call in waiting) call.OnFailed(ErrorCode.Unavailable, "the connection closed before answering");
        }
    }

    // ---- calls from the server to this client ---------------------------------------------------

    private Dictionary<long, ServerCall>? _serverCalls;
    private long _nextServerCallId;

    private readonly record struct OutgoingCall(long Id, string Path, byte[]? Input);

    /// <summary>Sends <c>{"id":n,"path":…,"input":…}</c> to the client and keeps the call until its answer, cancel or the close.</summary>
    internal void StartServerCall(ServerCall call, string path, byte[]? inputJson)
    {
        long id;
        lock (_calls)
        {
            if (_closed || Session.CloseSent) throw new RpcException(ErrorCode.Unavailable, "the connection is closing");
            _serverCalls ??= new Dictionary<long, ServerCall>();
            if (_serverCalls.Count >= Hub.MaxServerCallsPerConnection)
                throw new RpcException(ErrorCode.ResourceExhausted, $"the connection already has {_serverCalls.Count} calls from the server waiting (Gateway:Limits:MaxServerCallsPerConnection)");
            id = ++_nextServerCallId;
            call.WireId = id;
            _serverCalls[id] = call;
        }
        ReplyWriter.Send(this, new OutgoingCall(id, path, inputJson), static (Utf8JsonWriter w, in OutgoingCall c) =>
        {
            w.WriteStartObject();
            w.WriteNumber("id"u8, c.Id);
            w.WriteString("path"u8, c.Path);
            if (c.Input is not null)
            {
                w.WritePropertyName("input"u8);
                w.WriteRawValue(c.Input, skipInputValidation: true);
            }
            w.WriteEndObject();
        }, isTerminal: true);
    }

    private bool TryTakeServerCall(long id, out ServerCall call)
    {
        lock (_calls)
        {
            call = null!;
            return _serverCalls is not null && _serverCalls.Remove(id, out call!);
        }
    }

    /// <summary>The server gives up on a call (deadline, cancel): the client is told to stop. False when it had ended already.</summary>
    internal bool CancelServerCall(ServerCall call)
    {
        if (call.WireId == 0 || !TryTakeServerCall(call.WireId, out var taken) || !ReferenceEquals(taken, call)) return false;
        ReplyWriter.Send(this, call.WireId, static (Utf8JsonWriter w, in long id) =>
        {
            w.WriteStartObject();
            w.WriteNumber("id"u8, id);
            w.WriteBoolean("cancel"u8, true);
            w.WriteEndObject();
        }, isTerminal: true);
        return true;
    }

    /// <summary>The client answered a call of ours (a <c>result</c> or an <c>error</c>); runs on the read loop.</summary>
    internal void CompleteServerCall(ref Envelope envelope)
    {
        var raw = envelope.Id;
        long id = 0;
        bool parsed = raw.IsSingleSegment
            ? System.Buffers.Text.Utf8Parser.TryParse(raw.FirstSpan, out id, out int used) && used == raw.Length
            : long.TryParse(System.Text.EncodingExtensions.GetString(System.Text.Encoding.UTF8, raw), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out id);
        if (!parsed || !TryTakeServerCall(id, out var call))
        {
            // Late (after its deadline or a cancel) or never ours: nothing waits for it.
            if (MayLog(LogLevel.Debug)) RpcLog.BadEnvelope(Log, Session.Id, "reply to an unknown server call ignored");
            return;
        }
        if (envelope.Kind == EnvelopeKind.Error) call.OnError(envelope.ErrorObject);
        else call.OnResult(envelope.Result);
    }

    // ---- input -------------------------------------------------------------------------------

    public bool TryReadInput<TIn>(Procedure procedure, ref Envelope envelope, JsonTypeInfo<TIn>? info, in RequestId id, out TIn value)
    {
        value = default!;
        if (info is null) return true;
        if (!envelope.HasInput || IsNull(envelope.Input))
        {
            if (!procedure.Descriptor.InputRequired) return true;
            RejectInput(procedure, envelope.HasId, id, $"input is required: '{procedure.Name}' expects {procedure.Descriptor.InputShape}");
            return false;
        }
        int maxDepth = Json.MaxDepth == 0 ? 64 : Json.MaxDepth;
        try
        {
            var reader = new Utf8JsonReader(envelope.Input, new JsonReaderOptions { MaxDepth = maxDepth });
            value = JsonSerializer.Deserialize(ref reader, info)!;
            return true;
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException or FormatException or OverflowException)
        {
            // The serializer's own text names .NET types (System.Nullable`1[System.Int64]): say it in JSON terms instead.
            RejectInput(procedure, envelope.HasId, id, JsonShape.InvalidInput(procedure.Name, procedure.Descriptor.InputShape, info, ex, maxDepth));
            return false;
        }
    }

    private static bool IsNull(in ReadOnlySequence<byte> json) => json.Length == 4 && json.FirstSpan[0] == (byte)'n';

    private void RejectInput(Procedure procedure, bool hasId, in RequestId id, string message)
    {
        if (hasId) SendError(id, ErrorCode.InvalidArgument, message);
        else DroppedNotification(procedure.Name, message);
    }

    // ---- replies -----------------------------------------------------------------------------

    private readonly struct ValueReply<T>(RpcCall call, T value, JsonTypeInfo<T> info, ReadOnlyMemory<byte> member)
    {
        public readonly RpcCall Call = call;
        public readonly T Value = value;
        public readonly JsonTypeInfo<T> Info = info;
        public readonly ReadOnlyMemory<byte> Member = member;
    }

    private static readonly ReadOnlyMemory<byte> ResultMember = "result"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> DataMember = "data"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> ProgressMember = "progress"u8.ToArray();

    private static void WriteValueReply<T>(Utf8JsonWriter w, in ValueReply<T> r)
    {
        w.WriteStartObject();
        var id = r.Call.Id;
        ReplyWriter.WriteId(w, in id);
        w.WritePropertyName(r.Member.Span);
        ReplyWriter.WriteValue(w, r.Value, r.Info);
        w.WriteEndObject();
    }

    public void SendResult<T>(RpcCall call, T value, JsonTypeInfo<T> info)
    {
        if (!call.HasId || !call.TryFinish()) return;
        ReplyWriter.Send(this, new ValueReply<T>(call, value, info, ResultMember), WriteValueReply, isTerminal: true);
    }

    public void SendNullResult(RpcCall call)
    {
        if (!call.HasId || !call.TryFinish()) return;
        ReplyWriter.Send(this, call, static (Utf8JsonWriter w, in RpcCall c) =>
        {
            w.WriteStartObject();
            var id = c.Id;
            ReplyWriter.WriteId(w, in id);
            w.WriteNull("result"u8);
            w.WriteEndObject();
        }, isTerminal: true);
    }

    public void SendData<T>(RpcCall call, T value, JsonTypeInfo<T> info)
    {
        if (!call.CanSend) return;
        ReplyWriter.Send(this, new ValueReply<T>(call, value, info, DataMember), WriteValueReply, isTerminal: false);
    }

    public void SendProgress<T>(RpcCall call, T value, JsonTypeInfo<T> info)
    {
        if (!call.CanSend) return;
        ReplyWriter.Send(this, new ValueReply<T>(call, value, info, ProgressMember), WriteValueReply, isTerminal: false);
    }

    public void SendDone(RpcCall call)
    {
        if (!call.TryFinish()) return;
        ReplyWriter.Send(this, call, static (Utf8JsonWriter w, in RpcCall c) =>
        {
            w.WriteStartObject();
            var id = c.Id;
            ReplyWriter.WriteId(w, in id);
            w.WriteNull("data"u8);
            w.WriteBoolean("done"u8, true);
            w.WriteEndObject();
        }, isTerminal: true);
    }

    private readonly record struct ErrorReply(RequestId Id, ErrorCode Code, string Message, bool Retryable, TimeSpan? RetryAfter, object? Details, JsonSerializerOptions Json);

    public void SendError(in RequestId id, ErrorCode code, string message, bool? retryable = null, TimeSpan? retryAfter = null, object? details = null)
    {
        ReplyWriter.Send(this, new ErrorReply(id, code, message, retryable ?? code.IsRetryable(), retryAfter, details, Json), static (Utf8JsonWriter w, in ErrorReply e) =>
        {
            w.WriteStartObject();
            var id = e.Id;
            ReplyWriter.WriteId(w, in id);
            w.WritePropertyName("error"u8);
            ErrorObjects.Write(w, e.Code, e.Message, e.Retryable, e.RetryAfter, e.Details, e.Json);
            w.WriteEndObject();
        }, isTerminal: true);
    }

    /// <summary>Maps a handler failure to the reply: RpcException as is, anything else INTERNAL with a generic message.</summary>
    public void Fail(RpcCall call, Exception ex)
    {
        if (ex is OperationCanceledException && call.CancellationToken.IsCancellationRequested)
        {
            // Cancelled by the caller or by the connection closing: nothing goes back (PROTOCOL.md).
            call.TryFinish();
            return;
        }
        if (!call.HasId)
        {
            LogHandlerError(call, ex);
            return;
        }
        if (!call.TryFinish()) return;
        if (ex is RpcException rpc)
        {
            SendError(call.Id, rpc.Code, rpc.Message, rpc.Retryable, rpc.RetryAfter, rpc.Details);
            return;
        }
        LogHandlerError(call, ex);
        _app.Metrics?.InternalError();
        SendError(call.Id, ErrorCode.Internal, "internal error");
    }

    // A client decides how often a handler fails (echo/crash in a loop): the first failures of each second are
    // written with their stack trace, the rest counted into the heartbeat's "suppressed" summary. The INTERNAL
    // reply and gateway_internal_errors_total stay exact whatever the log lets through.
    public void LogHandlerError(RpcCall call, Exception ex)
    {
        if (MayLog(LogLevel.Error)) RpcLog.HandlerFailed(Log, Session.Id, call.Path, ex);
    }

    /// <summary>Whether a per-connection line at <paramref name="level"/> is written now (Limits:ClientFaultLogsPerSecond).</summary>
    private bool MayLog(LogLevel level) => _app.Metrics is { } metrics ? metrics.AllowClientFaultLog(Log, level) : Log.IsEnabled(level);

    public void DroppedNotification(string path, string reason)
    {
        if (MayLog(LogLevel.Debug)) RpcLog.NotificationDropped(Log, Session.Id, path, reason);
    }

    /// <summary>Counts unparseable envelopes in a row; past the limit the connection is closed with 1008.</summary>
    public void BadMessage(string problem)
    {
        if (MayLog(LogLevel.Debug)) RpcLog.BadEnvelope(Log, Session.Id, problem);
        if (++_badInARow >= _app.MaxBadMessages)
        {
            Session.Close(CloseCodes.PolicyViolation, "too many invalid messages");
        }
    }

    public void GoodMessage() => _badInARow = 0;
}
