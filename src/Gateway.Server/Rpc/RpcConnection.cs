using System.Buffers;
using System.Text.Json;
using Gateway.Protocol.Rpc;
using Gateway.Protocol.WebSockets;
using Gateway.Server.Codec;
using Gateway.Server.Push;
using Gateway.Server.Rpc.Limits;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.Rpc;

/// <summary>
/// The RPC state of one connection, put together from its parts: the calls (<see cref="CallRegistry"/>), the
/// replies (<see cref="ReplySender"/>), the client's faults (<see cref="ClientFaults"/>), its rate limits and
/// deadlines, per-connection items, and the <see cref="PushState"/> push keeps for it (topics, user, server calls).
/// </summary>
internal sealed class RpcConnection : Transport.ITransportCloseObserver
{
    private readonly RpcApplication _app;
    private Dictionary<string, object?>? _items;
    private RateAdmission _admission;

    public RpcConnection(WebSocketSession session, RpcApplication app, IWireCodec codec)
    {
        Session = session;
        _app = app;
        Codec = codec;
        FrameOpcode = codec.FrameOpcode;
        Faults = new ClientFaults(session, app.Logger, app.Metrics, app.MaxBadMessages);
        Replies = new ReplySender(session, codec, app.Json, app.Metrics, Faults);
        Calls = new CallRegistry(this, app.MaxInflight);
        _admission = new RateAdmission(app.RateLimits, app.ProcedureLimits);
        Push = app.Push.Connect(session, codec);
        // The handshake's identity, before anything else (connection hooks, the first call) can look at the connection.
        if (session.Identity is { } identity)
        {
            User = identity.Principal;
            if (identity.UserId is not null) UserId = identity.UserId;
        }
        if (app.HasDeadlines) session.Heartbeat = new DeadlineSweep(Calls, Replies, app.Metrics).Tick;
        // Disconnect cancels every running handler at once, even if the read loop is parked at the in-flight limit.
        session.ObserveClose(this);
    }

    public WebSocketSession Session { get; }
    /// <summary>The wire format negotiated for this connection.</summary>
    public IWireCodec Codec { get; }
    /// <summary>The codec's frame type, read once: the read loop checks it on every message.</summary>
    public Opcode FrameOpcode { get; }
    public CallRegistry Calls { get; }
    public ReplySender Replies { get; }
    public ClientFaults Faults { get; }
    /// <summary>What push knows of this connection; given back to push when the connection goes.</summary>
    public PushState Push { get; }
    public JsonSerializerOptions Json => _app.Json;
    public ILogger Logger => _app.Logger;
    public GatewayMetrics? Metrics => _app.Metrics;
    private PolicyContext? _policyContext;
    /// <summary>The context authorization policies see; made on the first policy check (most connections never need one).</summary>
    public PolicyContext PolicyContext => _policyContext ??= new PolicyContext(this);
    /// <summary>What connection hooks see of this connection; null when no IConnectionHandler is registered.</summary>
    public HookConnectionContext? HookContext { get; set; }
    public IPushEndpoint PushEndpoint => _app.Push;

    /// <summary>The cluster-wide id: this node's id, a dot, the session's number.</summary>
    public string ConnectionId => Push.ConnectionId;

    public IDictionary<string, object?> Items
    {
        get
        {
            if (_items is null) Interlocked.CompareExchange(ref _items, new Dictionary<string, object?>(StringComparer.Ordinal), null);
            return _items;
        }
    }

    /// <summary>An unauthenticated principal, shared by every connection that presented no credentials.</summary>
    public static readonly System.Security.Claims.ClaimsPrincipal Anonymous = new(new System.Security.Claims.ClaimsIdentity());

    /// <summary>The authenticated principal (set at the handshake, replaced by an in-band refresh), or <see cref="Anonymous"/>.</summary>
    public System.Security.Claims.ClaimsPrincipal User { get; set; } = Anonymous;

    public string? UserId
    {
        get => Push.UserId;
        set
        {
            if (value is { Length: 0 or > 256 }) throw new ArgumentException("a user id is 1 to 256 characters, or null", nameof(value));
            // The local index changes now; the backplane registration finishes in the background.
            var pending = _app.Push.SetUserAsync(Push, value);
            if (!pending.IsCompletedSuccessfully) _ = ObserveAsync(pending);
        }
    }

    private async Task ObserveAsync(ValueTask pending)
    {
        try { await pending.ConfigureAwait(false); }
        catch (Exception ex) { Faults.HandlerFailed("(set user id)", ex); }
    }

    /// <summary>
    /// Rate limits (<see cref="RateAdmission"/>), checked on the read loop before a call starts. Past
    /// RateLimits:MaxRejectionsInRow refusals in a row the connection is closed with 1008.
    /// </summary>
    public bool TryAdmit(Procedure? procedure, out TimeSpan retryAfter)
    {
        if (_admission.TryAdmit(procedure?.RateLimitSlot ?? -1, out retryAfter)) return true;
        _app.Metrics?.RateLimitHit();
        if (_admission.IsAbusive) Faults.RateLimitAbuse(_admission.RejectedInRow);
        return false;
    }

    public void Cancel(in ReadOnlySequence<byte> rawId)
    {
        string key = Codec.IdKey(rawId);
        // Unknown ids are ignored: the call may have finished already (its reply is on the way).
        Calls.Find(key)?.CancelByClient();
    }

    /// <summary>The client answered a call the server made (a <c>result</c> or an <c>error</c>); runs on the read loop.</summary>
    public void CompleteServerCall(ref Envelope envelope)
    {
        bool isError = envelope.Kind == EnvelopeKind.Error;
        if (!Push.ServerCalls.TryComplete(envelope.Id, isError, isError ? envelope.ErrorObject : envelope.Result, Json.MaxDepth == 0 ? 64 : Json.MaxDepth))
            Faults.UnknownServerCallReply();
    }

    /// <summary>Shutdown: new calls are refused, streams end with UNAVAILABLE; completes when no call is running.</summary>
    public Task DrainAsync()
    {
        var idle = Calls.DrainAsync();
        foreach (var call in Calls.Running())
        {
            if (call.Procedure.Kind == ProcedureKind.Subscription && call.TryFinish())
            {
                call.SetOutcome(ErrorCode.Unavailable);
                Replies.SendError(call.Id, ErrorCode.Unavailable, "server is shutting down; subscribe again");
                call.Abort();
            }
        }
        return idle;
    }

    /// <summary>
    /// Shutdown ran out of time (Timeouts:Shutdown): every call still running is answered UNAVAILABLE now, ahead
    /// of the 1001 that follows, so its caller knows to retry elsewhere rather than guess; its token fires.
    /// </summary>
    public void AbandonRunning()
    {
        foreach (var call in Calls.Running())
        {
            if (call.HasId && call.TryFinish())
            {
                call.SetOutcome(ErrorCode.Unavailable);
                Replies.SendError(call.Id, ErrorCode.Unavailable, "server shut down before the call finished");
            }
            call.Abort();
        }
    }

    void Transport.ITransportCloseObserver.OnTransportClosed() => Close();

    /// <summary>The connection is gone: every running handler's token fires, every call the server made to it fails.</summary>
    public void Close()
    {
        foreach (var call in Calls.Close()) call.Abort();
        Calls.ReleaseSlotWaiter();
        Push.ServerCalls.Close();
    }
}
