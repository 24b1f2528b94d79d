using System.Net;
using System.Text.Json.Serialization.Metadata;
using Gateway.Server.Codec;

namespace Gateway.Server.Rpc;

/// <summary>
/// One running call, and the <see cref="RpcContext"/> its handler sees. Pooled per connection: a call
/// that completes synchronously reuses the same object and CancellationTokenSource next time, so the
/// synchronous request path allocates neither.
/// </summary>
internal sealed class RpcCall : RpcContext
{
    private readonly RpcConnection _connection;
    private CancellationTokenSource _cts = new();
    private Procedure? _procedure;
    private int _finished;   // a terminal reply was sent (or must never be)
    private int _cancelled;  // the caller cancelled: nothing more is sent for this id

    public RpcCall(RpcConnection connection) => _connection = connection;

    /// <summary>The connection this call runs on (built-ins such as <c>$auth</c> change its state).</summary>
    internal RpcConnection Connection => _connection;

    public RequestId Id { get; private set; }
    public bool HasId { get; private set; }
    /// <summary>The key under which an asynchronous call is tracked for cancel; null while it is synchronous.</summary>
    public string? Key { get; private set; }
    public Procedure Procedure => _procedure!;
    public bool IsCancelled => Volatile.Read(ref _cancelled) != 0;
    /// <summary>Environment.TickCount64 past which the call gets DEADLINE_EXCEEDED; 0 = none.</summary>
    public long Deadline { get; set; }
    /// <summary>Whether anything may still be sent for this call.</summary>
    public bool CanSend => HasId && Volatile.Read(ref _cancelled) == 0 && Volatile.Read(ref _finished) == 0;

    /// <summary>The batch of a running subscription's items not yet queued (<see cref="Rpc.StreamBatch"/>); progress flushes it first.</summary>
    internal StreamBatch? StreamBatch;

    /// <summary>The call's span (<see cref="GatewayTracing"/>); null when nothing listens.</summary>
    public System.Diagnostics.Activity? Activity;

    /// <summary>Stopwatch timestamp of the dispatch (gateway_rpc_duration_seconds).</summary>
    public long StartTimestamp { get; private set; }
    // The code cell (ProcedureStats) of the terminal outcome; 0 (OK) unless an error or a cancel was recorded.
    private int _outcome;
    private bool _outcomeSet;

    /// <summary>Records how the call ended, once: the claim of its terminal reply (or a notification's failure) sets it.</summary>
    public void SetOutcome(ErrorCode code)
    {
        if (_outcomeSet) return;
        _outcomeSet = true;
        _outcome = 1 + (int)code;
    }

    public void SetOutcomeOk() => _outcomeSet = true;

    /// <summary>The code cell the call ends under: what was recorded, else CANCELLED when its token fired, else OK.</summary>
    public int OutcomeCell => _outcomeSet ? _outcome : _cts.IsCancellationRequested ? 1 + (int)ErrorCode.Cancelled : 0;

    public void Start(Procedure procedure, in RequestId id, bool hasId)
    {
        StartTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        _outcome = 0;
        _outcomeSet = false;
        _procedure = procedure;
        Id = id;
        HasId = hasId;
        Key = null;
        Deadline = 0;
        _finished = 0;
        _cancelled = 0;
    }

    /// <summary>Copies the id out of the message buffer: the call is about to outlive it.</summary>
    public string Pin()
    {
        if (Key is null)
        {
            Key = _connection.Codec.IdKey(Id.Raw);
            Id = new RequestId(Key);
        }
        return Key;
    }

    /// <summary>Claims the right to send the terminal reply (exactly one per call).</summary>
    public bool TryFinish() => Volatile.Read(ref _cancelled) == 0 && Interlocked.Exchange(ref _finished, 1) == 0;

    public void CancelByClient()
    {
        Interlocked.Exchange(ref _cancelled, 1);
        Abort();
    }

    public void Abort()
    {
        // CancelAsync: the token reads as cancelled at once, but the handler's continuations run on the thread
        // pool, not inline on the read loop or the heartbeat that cancelled it.
        try { _ = _cts.CancelAsync(); }
        catch (ObjectDisposedException) { }
    }

    /// <summary>
    /// Readies the object for reuse; it can always go back to the pool. A token that fired is replaced (not disposed:
    /// its CancelAsync callbacks may still be running, and with no timer or links there is nothing to free).
    /// </summary>
    public void Reset()
    {
        _procedure = null;
        Activity = null;
        StreamBatch = null;
        Id = default;
        Key = null;
        if (!_cts.TryReset()) _cts = new CancellationTokenSource();
    }

    public override string ConnectionId => _connection.ConnectionId;
    public override IPEndPoint? RemoteEndPoint => _connection.Session.RemoteEndPoint;
    public override IReadOnlyDictionary<string, string> RequestHeaders => _connection.Session.Request.ToDictionary();
    public override IDictionary<string, object?> Items => _connection.Items;
    public override string Path => _procedure?.Name ?? "";
    public override System.Security.Claims.ClaimsPrincipal User => _connection.User;
    public override string? UserId { get => _connection.UserId; set => _connection.UserId = value; }
    public override ValueTask SetUserIdAsync(string? userId) => _connection.PushEndpoint.SetUserAsync(_connection.Push, userId, CancellationToken);
    public override ITopics Topics => _connection.PushEndpoint.Topics;
    public override IConnections Connections => _connection.PushEndpoint.Connections;
    public override CancellationToken CancellationToken => _cts.Token;

    public override ValueTask ReportProgressAsync<T>(T value)
    {
        if (!CanSend) return default;
        var info = (JsonTypeInfo<T>)_connection.Json.GetTypeInfo(typeof(T));
        _connection.Replies.SendProgress(this, value, info);
        return default;
    }
}
