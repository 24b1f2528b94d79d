using System.Net;
using System.Text;
using Gateway.Protocol.Compression;
using Gateway.Protocol.Http;
using Gateway.Protocol.WebSockets;
using Gateway.Server.Connections;
using Gateway.Server.Options;
using Gateway.Server.Transport;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.WebSockets;

/// <summary>
/// One upgraded connection: the read loop that turns bytes into frames and messages, the control
/// frame rules (ping → pong, the close handshake), and the outbox every reply goes through.
/// </summary>
public sealed partial class WebSocketSession : ISendObserver, ITransportCloseObserver
{
    private readonly GatewayConnection _connection;
    private readonly Outbox _outbox;
    private readonly GatewayOptions _options;
    private readonly ILogger _log;
    private readonly GatewayMetrics _metrics;
    private CancellationTokenSource? _closedCts;
    private int _closeSent;
    // How long the peer has to finish the close once we started it (Timeouts:Close, or a timed-out client's grace).
    private long _closeTimeoutMs;
    private volatile bool _inReadLoop;
    private readonly long _sentBaseline;
    // Read for every frame a publish fans out: kept here so the check touches this object and the outbox, nothing else.
    private readonly SocketConnection _transport;
    private readonly long _sendLimit;
    private TaskCompletionSource? _roomWaiter;
    private long _droppedFrames;
    private readonly PartialMessageGuard? _partialGuard;
    private MessageReader? _reader;
    private int _partialEvicted;
    private long _evictedHeldBytes;
    // Over the send limit, the latest unanswered ping's payload (RFC 6455 §5.5.3 lets us answer only the most recent
    // one): a peer that does not read its pongs gets one pending pong however many pings it sends, instead of a queue.
    // Under the limit every ping is answered in order, as a well-behaved peer expects.
    private byte[]? _pongPayload;
    private int _pongLength = -1;

    internal WebSocketSession(GatewayConnection connection, HttpRequestHead request, string? subprotocol, GatewayOptions options, GatewayMetrics metrics, ILogger log, PartialMessageGuard? partialGuard = null,
        PerMessageDeflate? deflate = null, PerMessageDeflateParameters? compression = null)
    {
        _partialGuard = partialGuard;
        _connection = connection;
        Compression = compression;
        if (deflate is not null && compression is not null)
        {
            _inflater = deflate.CreateInflater(compression);
            _deflater = deflate.CreateDeflater(compression);
        }
        _outbox = new Outbox(connection.Transport.Output, _deflater, connection.Transport);
        _transport = connection.Transport;
        _sendLimit = options.Limits.SendBufferLimitBytes;
        _closeTimeoutMs = (long)options.Timeouts.Close.TotalMilliseconds;
        _sentBaseline = connection.Transport.BytesSent;
        connection.Transport.ObserveSends(this);
        // The peer may vanish while the read loop is not reading (parked at a limit): end the session's work then too.
        connection.Transport.ObserveClose(this);
        Request = request;
        Subprotocol = subprotocol;
        _options = options;
        // The first ping comes after a random half to whole keep-alive interval, the later ones a whole interval apart:
        // clients that connected together (a deploy, a reconnect storm) are not all pinged in the same heartbeat tick,
        // whose pongs would arrive as one burst and take that many pipe blocks at once.
        long keepAlive = (long)options.Timeouts.KeepAliveInterval.TotalMilliseconds;
        LastPingTicks = Environment.TickCount64 - Random.Shared.NextInt64(keepAlive / 2 + 1);
        _metrics = metrics;
        _log = log;
    }

    /// <summary>Environment.TickCount64 of the last data message (for the idle timeout).</summary>
    internal long LastMessageTicks = Environment.TickCount64;
    /// <summary>Environment.TickCount64 of the last keep-alive ping sent.</summary>
    internal long LastPingTicks;

    /// <summary>Called by the heartbeat loop on every tick with Environment.TickCount64 (the RPC layer's deadlines).</summary>
    public Action<long>? Heartbeat { get; set; }

    /// <summary>Sends a keep-alive ping (called by the heartbeat).</summary>
    internal void SendPing(long now)
    {
        LastPingTicks = now;
        // A peer over the send limit is not reading: a ping would only add to its backlog (the client timeout still runs).
        if (CloseSent || IsOverSendLimit) return;
        if (_outbox.EnqueuePing(now) && !_inReadLoop) _outbox.Schedule();
    }

    public long Id => _connection.Id;
    public IPEndPoint? RemoteEndPoint => _connection.Transport.RemoteEndPoint;
    /// <summary>The HTTP request that opened the session.</summary>
    public HttpRequestHead Request { get; }
    public string? Subprotocol { get; }
    /// <summary>The permessage-deflate parameters agreed in the handshake, or null when the connection is uncompressed.</summary>
    public PerMessageDeflateParameters? Compression { get; }
    private readonly MessageInflater? _inflater;
    private readonly MessageDeflater? _deflater;
    /// <summary>True while this connection holds native deflate state (never when idle without context takeover).</summary>
    internal bool HoldsCompressionState => _reader?.HoldsInflateState == true || _inflater?.HoldsState == true || _deflater?.HoldsState == true;
    // For tests: without context takeover these are shared by every connection that agreed the same window sizes.
    internal MessageInflater? Inflater => _inflater;
    internal MessageDeflater? Deflater => _deflater;
    /// <summary>The application's per-connection object.</summary>
    public object? State { get; set; }
    /// <summary>Bytes waiting in the outbox (not yet in the transport's pipe).</summary>
    public long PendingSendBytes => _outbox.PendingBytes;
    public bool CloseSent => Volatile.Read(ref _closeSent) != 0;

    /// <summary>Bytes handed to the session and not yet written to the socket (outbox plus transport pipe).</summary>
    public long UnsentBytes => Math.Max(0, _outbox.AcceptedBytes - (_transport.BytesSent - _sentBaseline));
    /// <summary>True while the unsent bytes are at or over Limits:SendBufferLimitBytes.</summary>
    public bool IsOverSendLimit => UnsentBytes >= _sendLimit;
    /// <summary>Bytes of incomplete messages this session's reader holds.</summary>
    internal long PartialMessageBytes => _reader?.HeldBytes ?? 0;
    internal bool PartialEvicted => Volatile.Read(ref _partialEvicted) != 0;

    /// <summary>
    /// Closes with 1009 because all connections together hold too much in incomplete messages and this one holds the
    /// most; the read loop stops at once so the buffer goes back now, not after the closing handshake.
    /// </summary>
    internal bool EvictForPartialMessages(long heldBytes)
    {
        if (Interlocked.Exchange(ref _partialEvicted, 1) != 0) return false;
        Volatile.Write(ref _evictedHeldBytes, heldBytes);
        Close(CloseCodes.MessageTooBig, "server is short of memory for incomplete messages");
        _connection.Transport.Input.CancelPendingRead();
        return true;
    }

    /// <summary>Stream items, progress and events dropped for this slow consumer (DropNewest policy).</summary>
    public long DroppedFrames => Volatile.Read(ref _droppedFrames);

    /// <summary>Completes when the unsent bytes are under the limit again, or the session is closing.</summary>
    public Task WaitForSendRoomAsync()
    {
        if (!IsOverSendLimit || CloseSent) return Task.CompletedTask;
        var tcs = _roomWaiter;
        if (tcs is null)
        {
            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            tcs = Interlocked.CompareExchange(ref _roomWaiter, created, null) ?? created;
        }
        // The send loop may have caught up between the check and publishing the waiter.
        if (!IsOverSendLimit || CloseSent) ReleaseRoomWaiters();
        return tcs.Task;
    }

    void ITransportCloseObserver.OnTransportClosed() => SignalEnded();

    // The transport closed or the read loop ended, whichever first: Closed fires, the RPC layer is told, waiters go.
    private void SignalEnded()
    {
        if (Interlocked.Exchange(ref _transportClosed, 1) != 0)
        {
            ReleaseRoomWaiters();
            return;
        }
        Interlocked.Exchange(ref _closeObserver, ClosedMarker.Instance)?.OnTransportClosed();
        if (Volatile.Read(ref _closedCts) is { } cts) CancelClosed(cts);
        ReleaseRoomWaiters();
    }

    private static void CancelClosed(CancellationTokenSource cts)
    {
        try { cts.Cancel(); } catch (AggregateException) { } // an application's callback threw: its fault, not the transport's
    }

    private int _transportClosed;
    // The RPC layer's one close callback: a direct call rather than a registration on Closed, so that an idle session
    // needs no token source. ClosedMarker once the session has closed.
    private ITransportCloseObserver? _closeObserver;

    /// <summary>True once the transport closed or the read loop ended (what <see cref="Closed"/> reports, without making its token source).</summary>
    internal bool IsClosed => Volatile.Read(ref _transportClosed) != 0;

    /// <summary>Tells <paramref name="observer"/> exactly once when the session ends (at once if it has); one observer per session.</summary>
    internal void ObserveClose(ITransportCloseObserver observer)
    {
        if (Interlocked.CompareExchange(ref _closeObserver, observer, null) is ClosedMarker) observer.OnTransportClosed();
    }

    private sealed class ClosedMarker : ITransportCloseObserver
    {
        public static readonly ClosedMarker Instance = new();
        public void OnTransportClosed() { }
    }

    // Created on first use: most sessions never ask for the token. Made after the session ended, it is cancelled here.
    private CancellationTokenSource ClosedSource
    {
        get
        {
            var cts = _closedCts;
            if (cts is not null) return cts;
            var created = new CancellationTokenSource();
            cts = Interlocked.CompareExchange(ref _closedCts, created, null) ?? created;
            if (IsClosed) CancelClosed(cts);
            return cts;
        }
    }

    void ISendObserver.OnSent()
    {
        if (_roomWaiter is not null && !IsOverSendLimit) ReleaseRoomWaiters();
    }

    private void ReleaseRoomWaiters() => Interlocked.Exchange(ref _roomWaiter, null)?.TrySetResult();

    /// <summary>
    /// Sends a frame that may be lost to a slow consumer (a stream item, progress, an event): over the send
    /// limit it is dropped and counted (DropNewest) or the connection is closed with 1008 (Close).
    /// Returns false when the frame was not queued.
    /// </summary>
    public bool SendDroppable(PooledFrame frame) => SendDroppable(frame, countSent: true);

    /// <summary>As <see cref="SendDroppable(PooledFrame)"/>; <paramref name="countSent"/> false when the caller counts sent frames in bulk (fan-out).</summary>
    internal bool SendDroppable(PooledFrame frame, bool countSent)
    {
        if (IsOverSendLimit && !CloseSent)
        {
            frame.Return();
            if (_options.Limits.SlowConsumerPolicy == SlowConsumerPolicy.Close)
            {
                _metrics.SlowConsumerClosed();
                if (_metrics.LogBudget.Allow(_log, LogLevel.Warning)) Log.SlowConsumer(_log, Id, "closing with 1008");
                Close(CloseCodes.PolicyViolation, "slow consumer");
            }
            else
            {
                if (Interlocked.Increment(ref _droppedFrames) == 1 && _metrics.LogBudget.Allow(_log, LogLevel.Warning)) Log.SlowConsumer(_log, Id, "dropping stream items and progress");
                _metrics.FrameDropped();
            }
            return false;
        }
        return Send(frame, countSent);
    }

    /// <summary>Fires when the session ends, however it ends.</summary>
    public CancellationToken Closed => ClosedSource.Token;

    /// <summary>Queues a frame (ownership passes to the session). False when the session is closing and the frame was dropped.</summary>
    public bool Send(PooledFrame frame) => Send(frame, countSent: true);

    internal bool Send(PooledFrame frame, bool countSent)
    {
        if (CloseSent)
        {
            frame.Return();
            return false;
        }
        if (countSent) _metrics.MessageSent(frame.Length);
        // Enqueue before reading the flag: either the read loop still owes a flush, or we drain ourselves
        // (at the end of the read batch we are called from, when there is one).
        if (!_outbox.Enqueue(frame, deferDrain: true)) return false;
        // Called from another session's read loop on this thread (a publish fanning out to subscribers), the drain is
        // deferred to the end of that read batch (DrainBatch): one write and one work item per subscriber per burst.
        // The batch stays thread-static rather than an argument: it would have to travel through the application's
        // calls (RPC dispatch, push fan-out, IConnections) into this public Send, and it never outlives the synchronous
        // part of a read (see DrainBatch), so what Send does differs only in when the drain runs, never in what is sent.
        if (!_inReadLoop && !DrainBatch.TryDefer(_outbox)) _outbox.Schedule();
        return true;
    }

    /// <summary>Starts the closing handshake from the server side; the session ends when the peer answers or the close timeout passes.</summary>
    public void Close(ushort code, string reason) => Close(code, reason, _options.Timeouts.Close);

    /// <summary>
    /// As <see cref="Close(ushort, string)"/>, dropping the connection once <paramref name="closeTimeout"/> has passed
    /// (a client that has shown it is not reading gets a short grace, not the whole Timeouts:Close).
    /// </summary>
    internal void Close(ushort code, string reason, TimeSpan closeTimeout) => Close(code, reason, closeTimeout, KindOf(code));

    /// <summary>As <see cref="Close(ushort, string, TimeSpan)"/>, telling connection hooks why (<see cref="DisconnectReason"/>).</summary>
    internal void Close(ushort code, string reason, TimeSpan closeTimeout, DisconnectKind kind)
    {
        if (Interlocked.Exchange(ref _closeSent, 1) != 0) return;
        Volatile.Write(ref _serverClose, new DisconnectReason(kind, code, reason));
        Volatile.Write(ref _closeTimeoutMs, (long)closeTimeout.TotalMilliseconds);
        ReleaseRoomWaiters();
        _connection.SetDeadline(closeTimeout, "closing handshake timed out");
        _outbox.Enqueue(PooledFrame.CreateClose(code, Encoding.UTF8.GetBytes(reason)), deferDrain: true);
        if (!_inReadLoop) _outbox.Schedule();
    }

    // Why the server closed the session, when it did (connection hooks); set once, with the close frame.
    private DisconnectReason? _serverClose;

    /// <summary>How the session ended, for connection hooks; set by the read loop as it ends (null while it runs).</summary>
    internal DisconnectReason? EndReason { get; private set; }

    /// <summary>What a server close with <paramref name="code"/> means when the closer does not say.</summary>
    private static DisconnectKind KindOf(ushort code) => code switch
    {
        CloseCodes.GoingAway => DisconnectKind.ServerShutdown,
        CloseCodes.InternalError => DisconnectKind.ServerError,
        CloseCodes.PolicyViolation or CloseCodes.MessageTooBig => DisconnectKind.PolicyClose,
        >= 4400 and <= 4499 => DisconnectKind.PolicyClose,
        _ => DisconnectKind.ServerClosed,
    };

    /// <summary>
    /// Enqueue the pong/close/echo of the current read batch without a thread hop when called from the read loop.
    /// </summary>
    internal bool InReadLoop => _inReadLoop;
}
