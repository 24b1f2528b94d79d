using System.Text;
using Gateway.Protocol.WebSockets;
using Gateway.Server.Connections;
using Gateway.Server.Options;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.WebSockets;

// The read side of the session: the loop that turns the input pipe into frames and messages, answers control frames,
// hands messages to the application, pauses at the send limit, and ends with the lingering close.
public sealed partial class WebSocketSession
{
    private IWebSocketApplication? _app;

    /// <summary>Lets the application finish its in-flight work before the server closes the session (shutdown).</summary>
    internal ValueTask DrainAsync(CancellationToken cancellationToken) =>
        _app is { } app && !CloseSent ? app.DrainAsync(this, cancellationToken) : default;

    internal async Task RunAsync(IWebSocketApplication app)
    {
        _app = app;
        var input = _connection.Transport.Input;
        // Made when the first bytes arrive: a connection that never sends holds no reader.
        MessageReader? reader = null;
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
                if (reader is null) _reader = reader = new MessageReader(_options.Limits.MaxMessageBytes, budget: _partialGuard?.Budget, inflater: _inflater);
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
                                    // A short payload (every keep-alive we know of) waits in the outbox's pong slot, not its queue.
                                    if (!_outbox.TryEnqueuePong(reader.ControlPayload))
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
                                    EndReason = new DisconnectReason(DisconnectKind.ClientClosed, reader.CloseCode == 0 ? null : reader.CloseCode, outcome);
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
                                EndReason ??= new DisconnectReason(DisconnectKind.ProtocolError, reader.ErrorCloseCode, reader.ErrorReason!);
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
                // Only a reader holding bytes can have taken the total over the cap: the shared sum is not read otherwise.
                if (reader.HeldBytes > 0 && _partialGuard is { IsOver: true } guard) guard.Enforce();
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
            EndReason ??= new DisconnectReason(DisconnectKind.ServerError, CloseCodes.InternalError, "internal error");
            if (_metrics.LogBudget.Allow(_log, LogLevel.Error)) Log.ApplicationError(_log, Id, ex);
            if (Interlocked.Exchange(ref _closeSent, 1) == 0)
                _outbox.Enqueue(PooledFrame.CreateClose(CloseCodes.InternalError, "internal error"u8), deferDrain: true);
        }
        finally
        {
            reader?.Dispose();
            if (PartialEvicted) _partialGuard?.Released(Volatile.Read(ref _evictedHeldBytes));
            SignalEnded();
            // Whatever ended the read loop, a close the server started first is the reason (the peer may have answered it,
            // or dropped instead); else TCP ended without a closing handshake.
            EndReason ??= Volatile.Read(ref _serverClose) ?? new DisconnectReason(DisconnectKind.ConnectionLost, null, outcome);
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
}
