using System.Net;
using System.Text;
using Gateway.Protocol.Http;
using Gateway.Protocol.WebSockets;
using Gateway.Server.Connections;
using Gateway.Server.Options;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.WebSockets;

/// <summary>
/// One upgraded connection: the read loop that turns bytes into frames and messages, the control
/// frame rules (ping → pong, the close handshake), and the outbox every reply goes through.
/// </summary>
public sealed class WebSocketSession
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
    private readonly Transport.SocketConnection _transport;
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

    internal WebSocketSession(GatewayConnection connection, HttpRequestHead request, string? subprotocol, GatewayOptions options, GatewayMetrics metrics, ILogger log, PartialMessageGuard? partialGuard = null)
    {
        _partialGuard = partialGuard;
        _connection = connection;
        _outbox = new Outbox(connection.Transport.Output);
        _transport = connection.Transport;
        _sendLimit = options.Limits.SendBufferLimitBytes;
        _closeTimeoutMs = (long)options.Timeouts.Close.TotalMilliseconds;
        _sentBaseline = Volatile.Read(ref connection.Transport.BytesSent);
        connection.Transport.Sent = OnTransportSent;
        // The peer may vanish while the read loop is not reading (parked at a limit): end the session's work then too.
        connection.Transport.ConnectionClosed.UnsafeRegister(static state => ((WebSocketSession)state!).OnTransportClosed(), this);
        Request = request;
        Subprotocol = subprotocol;
        _options = options;
        _metrics = metrics;
        _log = log;
    }

    /// <summary>Environment.TickCount64 of the last data message (for the idle timeout).</summary>
    internal long LastMessageTicks = Environment.TickCount64;
    /// <summary>Environment.TickCount64 of the last keep-alive ping sent.</summary>
    internal long LastPingTicks = Environment.TickCount64;

    /// <summary>Called by the heartbeat loop on every tick with Environment.TickCount64 (the RPC layer's deadlines).</summary>
    public Action<long>? Heartbeat { get; set; }

    /// <summary>Sends a keep-alive ping (called by the heartbeat).</summary>
    internal void SendPing(long now)
    {
        LastPingTicks = now;
        // A peer over the send limit is not reading: a ping would only add to its backlog (the client timeout still runs).
        if (CloseSent || IsOverSendLimit) return;
        Span<byte> payload = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(payload, now);
        if (_outbox.Enqueue(PooledFrame.Create(Opcode.Ping, payload), deferDrain: true) && !_inReadLoop) _outbox.Schedule();
    }

    public long Id => _connection.Id;
    public IPEndPoint? RemoteEndPoint => _connection.Transport.RemoteEndPoint;
    /// <summary>The HTTP request that opened the session.</summary>
    public HttpRequestHead Request { get; }
    public string? Subprotocol { get; }
    /// <summary>The application's per-connection object.</summary>
    public object? State { get; set; }
    /// <summary>Bytes waiting in the outbox (not yet in the transport's pipe).</summary>
    public long PendingSendBytes => _outbox.PendingBytes;
    public bool CloseSent => Volatile.Read(ref _closeSent) != 0;

    /// <summary>Bytes handed to the session and not yet written to the socket (outbox plus transport pipe).</summary>
    public long UnsentBytes => Math.Max(0, _outbox.AcceptedBytes - (Volatile.Read(ref _transport.BytesSent) - _sentBaseline));
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

    private void OnTransportClosed()
    {
        var cts = _closedCts;
        if (cts is null)
        {
            Interlocked.CompareExchange(ref _closedCts, new CancellationTokenSource(), null);
            cts = _closedCts;
        }
        try { cts!.Cancel(); } catch (AggregateException) { }
        ReleaseRoomWaiters();
    }

    private void OnTransportSent()
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
    public CancellationToken Closed
    {
        get
        {
            var cts = _closedCts;
            if (cts is null)
            {
                Interlocked.CompareExchange(ref _closedCts, new CancellationTokenSource(), null);
                cts = _closedCts;
            }
            return cts!.Token;
        }
    }

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
        if (!_inReadLoop && !DrainBatch.TryDefer(_outbox)) _outbox.Schedule();
        return true;
    }

    /// <summary>Starts the closing handshake from the server side; the session ends when the peer answers or the close timeout passes.</summary>
    public void Close(ushort code, string reason) => Close(code, reason, _options.Timeouts.Close);

    /// <summary>
    /// As <see cref="Close(ushort, string)"/>, dropping the connection once <paramref name="closeTimeout"/> has passed
    /// (a client that has shown it is not reading gets a short grace, not the whole Timeouts:Close).
    /// </summary>
    internal void Close(ushort code, string reason, TimeSpan closeTimeout)
    {
        if (Interlocked.Exchange(ref _closeSent, 1) != 0) return;
        Volatile.Write(ref _closeTimeoutMs, (long)closeTimeout.TotalMilliseconds);
        ReleaseRoomWaiters();
        _connection.SetDeadline(closeTimeout, "closing handshake timed out");
        _outbox.Enqueue(PooledFrame.CreateClose(code, Encoding.UTF8.GetBytes(reason)), deferDrain: true);
        if (!_inReadLoop) _outbox.Schedule();
    }

    private IWebSocketApplication? _app;

    /// <summary>Lets the application finish its in-flight work before the server closes the session (shutdown).</summary>
    internal ValueTask DrainAsync(CancellationToken cancellationToken) =>
        _app is { } app && !CloseSent ? app.DrainAsync(this, cancellationToken) : default;

    internal async Task RunAsync(IWebSocketApplication app)
    {
        _app = app;
        var input = _connection.Transport.Input;
        var reader = new MessageReader(_options.Limits.MaxMessageBytes, budget: _partialGuard?.Budget);
        _reader = reader;
        string outcome = "connection lost";
        bool connected = false;
        try
        {
            await app.OnConnectedAsync(this).ConfigureAwait(false);
            connected = true;
            bool stop = false;
            while (!stop)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                if (PartialEvicted)
                {
                    input.AdvanceTo(result.Buffer.End);
                    outcome = "closed with 1009: incomplete messages over Limits:MaxPartialMessageBytesTotal";
                    break;
                }
                var buffer = result.Buffer;
                _inReadLoop = true;
                DrainBatch.Begin();
                // Thread-static: ended exactly once, on the thread that began it, before anything awaits.
                bool batchOpen = true;
                try
                {
                    while (!stop)
                    {
                        var ev = reader.Read(ref buffer);
                        if (ev == FrameEvent.NeedMoreData) break;
                        switch (ev)
                        {
                            case FrameEvent.Message:
                                _metrics.MessageReceived(reader.Payload.Length);
                                Volatile.Write(ref LastMessageTicks, Environment.TickCount64);
                                if (!CloseSent)
                                {
                                    var pending = app.OnMessageAsync(this, reader.MessageOpcode, reader.Payload);
                                    if (!pending.IsCompletedSuccessfully)
                                    {
                                        // The application is holding the read loop (backpressure): let other senders drain themselves meanwhile.
                                        _inReadLoop = false;
                                        batchOpen = false;
                                        DrainBatch.End();
                                        QueuePendingPong();
                                        await _outbox.FlushAsync().ConfigureAwait(false);
                                        await pending.ConfigureAwait(false);
                                        DrainBatch.Begin();
                                        batchOpen = true;
                                        _inReadLoop = true;
                                    }
                                }
                                reader.ReleaseMessage();
                                break;
                            case FrameEvent.Ping:
                                if (CloseSent) break;
                                if (_pongLength < 0 && !IsOverSendLimit)
                                {
                                    _outbox.Enqueue(PooledFrame.Create(Opcode.Pong, reader.ControlPayload), deferDrain: true);
                                }
                                else
                                {
                                    // The peer is not reading what we owe it: keep only the latest ping's pong.
                                    if (_pongLength >= 0) _metrics.CoalescedPings(1);
                                    var ping = reader.ControlPayload;
                                    ping.CopyTo(_pongPayload ??= new byte[125]);
                                    _pongLength = ping.Length;
                                }
                                break;
                            case FrameEvent.Pong:
                                break;
                            case FrameEvent.Close:
                                QueuePendingPong(closing: true);
                                if (Interlocked.Exchange(ref _closeSent, 1) == 0)
                                {
                                    // Echo the peer's status code (RFC 6455 §5.5.1), or an empty close for an empty one.
                                    _outbox.Enqueue(PooledFrame.CreateClose(reader.CloseCode, default), deferDrain: true);
                                    outcome = reader.CloseCode == 0 ? "closed by client" : $"closed by client ({reader.CloseCode})";
                                }
                                else
                                {
                                    outcome = "closing handshake completed";
                                }
                                stop = true;
                                break;
                            case FrameEvent.Error:
                                _metrics.ProtocolError(reader.ErrorCloseCode);
                                if (_metrics.LogBudget.Allow(_log, LogLevel.Information)) Log.ProtocolError(_log, Id, reader.ErrorCloseCode, reader.ErrorReason!);
                                QueuePendingPong(closing: true);
                                if (Interlocked.Exchange(ref _closeSent, 1) == 0)
                                    _outbox.Enqueue(PooledFrame.CreateClose(reader.ErrorCloseCode, Encoding.UTF8.GetBytes(reader.ErrorReason!)), deferDrain: true);
                                outcome = $"failed with {reader.ErrorCloseCode}: {reader.ErrorReason}";
                                stop = true;
                                break;
                        }
                    }
                }
                finally
                {
                    _inReadLoop = false;
                    if (batchOpen) DrainBatch.End();
                }
                input.AdvanceTo(buffer.Start, buffer.End);
                QueuePendingPong();
                // One flush for everything this read produced.
                await _outbox.FlushAsync().ConfigureAwait(false);
                // The flush alone is no brake: it returns at once while another drainer (a stream, a publisher) waits on
                // the full pipe. The send budget is: a peer that does not read what we owe it (replies, items, pongs)
                // stops being read, so what it makes us queue stays bounded whatever it sends.
                if (IsOverSendLimit && !CloseSent)
                {
                    _metrics.ReadPaused();
                    try { await WaitForSendRoomAsync().ConfigureAwait(false); }
                    finally { _metrics.ReadResumed(); }
                    QueuePendingPong();
                    await _outbox.FlushAsync().ConfigureAwait(false);
                }
                if (_partialGuard is { IsOver: true } guard) guard.Enforce();
                if (result.IsCompleted || result.IsCanceled)
                {
                    if (!stop) outcome = reader.HasPartialMessage ? "connection lost mid-message" : "connection lost without a close frame";
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            outcome = "connection lost: " + ex.Message;
        }
        catch (Exception ex)
        {
            // A fault of ours or of the application: tell the client (1011) instead of vanishing.
            outcome = "internal error: " + ex.GetType().Name;
            if (_metrics.LogBudget.Allow(_log, LogLevel.Error)) Log.ApplicationError(_log, Id, ex);
            if (Interlocked.Exchange(ref _closeSent, 1) == 0)
                _outbox.Enqueue(PooledFrame.CreateClose(CloseCodes.InternalError, "internal error"u8), deferDrain: true);
        }
        finally
        {
            reader.Dispose();
            if (PartialEvicted) _partialGuard?.Released(Volatile.Read(ref _evictedHeldBytes));
            try { _closedCts?.Cancel(); } catch (AggregateException) { }
            ReleaseRoomWaiters();
            if (connected)
            {
                try { await app.OnDisconnectedAsync(this).ConfigureAwait(false); }
                catch (Exception ex) { if (_metrics.LogBudget.Allow(_log, LogLevel.Error)) Log.ApplicationError(_log, Id, ex); }
            }
            if (_metrics.LogBudget.Allow(_log, LogLevel.Debug)) Log.SessionEnded(_log, Id, outcome);
        }
        await FinishAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Queues the pong for the latest ping of the batch. Over the send limit it stays pending (DropNewest: the read
    /// loop waits for room and answers then) or the peer is closed with 1008 (Close), like any frame a slow consumer
    /// cannot take. <paramref name="closing"/>: the connection is about to close anyway, so an unsendable pong is just dropped.
    /// </summary>
    private void QueuePendingPong(bool closing = false)
    {
        if (_pongLength < 0) return;
        if (CloseSent)
        {
            _pongLength = -1;
            return;
        }
        if (IsOverSendLimit)
        {
            if (closing) _pongLength = -1;
            if (closing || _options.Limits.SlowConsumerPolicy != SlowConsumerPolicy.Close) return;
            _pongLength = -1;
            _metrics.SlowConsumerClosed();
            if (_metrics.LogBudget.Allow(_log, LogLevel.Warning)) Log.SlowConsumer(_log, Id, "not reading its pongs; closing with 1008");
            Close(CloseCodes.PolicyViolation, "slow consumer");
            return;
        }
        _outbox.Enqueue(PooledFrame.Create(Opcode.Pong, _pongPayload.AsSpan(0, _pongLength)), deferDrain: true);
        _pongLength = -1;
    }

    /// <summary>Sends what is queued (the close frame last), then closes the connection lingering (<see cref="LingeringClose"/>).</summary>
    private Task FinishAsync() =>
        LingeringClose.RunAsync(_connection, new ValueTask(_outbox.CompleteAsync()), TimeSpan.FromMilliseconds(Volatile.Read(ref _closeTimeoutMs)));

    /// <summary>
    /// Enqueue the pong/close/echo of the current read batch without a thread hop when called from the read loop.
    /// </summary>
    internal bool InReadLoop => _inReadLoop;
}
