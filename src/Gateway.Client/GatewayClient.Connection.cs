using System.Buffers;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using Gateway.Client.Internal;

namespace Gateway.Client;

public sealed partial class GatewayClient
{
    private readonly object _stateLock = new();
    private GatewayClientState _state = GatewayClientState.Disconnected;
    private volatile Connection? _connection;
    private Task? _reconnecting;
    private int _uriIndex;

    /// <summary>Where the client is: connecting, connected, reconnecting, closed.</summary>
    public GatewayClientState State
    {
        get { lock (_stateLock) return _state; }
    }

    /// <summary>
    /// Raised on every change of <see cref="State"/> (connecting, connected, reconnecting, closed), on the thread that made
    /// the change; an exception thrown by a handler is logged and ignored.
    /// </summary>
    public event EventHandler<GatewayClientStateChangedEventArgs>? StateChanged;

    private long _bytesSent, _bytesReceived;

    /// <summary>Message payload bytes sent since the client was created, over every connection (WebSocket framing not counted).</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Message payload bytes received since the client was created, over every connection (WebSocket framing not counted).</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    /// <summary>The endpoint of the current connection, or null when not connected.</summary>
    public Uri? ConnectedUri => _connection?.Uri;

    /// <summary>
    /// Opens the first connection (to the first of <see cref="GatewayClientOptions.Uris"/>). A failure here is thrown, not
    /// retried: reconnecting starts only once a connection was established and then lost.
    /// </summary>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <exception cref="WebSocketException">The gateway refused or could not be reached (401/403 for a bad token, 503 while it stops).</exception>
    /// <exception cref="InvalidOperationException">Called twice, or after dispose.</exception>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        lock (_stateLock)
        {
            if (_state != GatewayClientState.Disconnected) throw new InvalidOperationException($"ConnectAsync was already called (the client is {_state}).");
        }
        SetState(GatewayClientState.Connecting, null);
        try
        {
            var connection = await OpenAsync(_uris[0], cancellationToken).ConfigureAwait(false);
            lock (_stateLock)
            {
                if (connection.Ended) throw new GatewayConnectionLostException("the connection closed as soon as it opened");
            }
            SetState(GatewayClientState.Connected, null);
            ClientLog.Connected(_log, connection.Uri);
        }
        catch (Exception ex)
        {
            SetState(GatewayClientState.Disconnected, ex);
            throw;
        }
    }

    private async Task<Connection> OpenAsync(Uri uri, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        linked.CancelAfter(_options.ConnectTimeout);
        var socket = new ClientWebSocket();
        try
        {
            socket.Options.AddSubProtocol(_codec.Subprotocol);
            socket.Options.KeepAliveInterval = _options.KeepAliveInterval;
            socket.Options.KeepAliveTimeout = _options.KeepAliveTimeout;
            socket.Options.CollectHttpResponseDetails = true;
            foreach (var (name, value) in _options.Headers) socket.Options.SetRequestHeader(name, value);
            if (_options.AccessTokenProvider is { } provider)
            {
                // Asked on every attempt: a token that expired while the client was away is never sent again.
                var token = await provider(linked.Token).ConfigureAwait(false);
                if (!string.IsNullOrEmpty(token)) socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
            }
            _options.ConfigureWebSocket?.Invoke(socket.Options);
            try
            {
                await socket.ConnectAsync(uri, linked.Token).ConfigureAwait(false);
            }
            catch (WebSocketException ex) when (socket.HttpStatusCode is not 0 and not System.Net.HttpStatusCode.SwitchingProtocols)
            {
                throw new WebSocketException(ex.WebSocketErrorCode, $"{uri} answered the upgrade with HTTP {(int)socket.HttpStatusCode} {socket.HttpStatusCode}", ex);
            }
            if (socket.SubProtocol != _codec.Subprotocol)
                throw new WebSocketException(WebSocketError.UnsupportedProtocol, $"{uri} did not select the subprotocol {_codec.Subprotocol} (it chose '{socket.SubProtocol}')");
        }
        catch
        {
            socket.Abort();
            socket.Dispose();
            throw;
        }
        var connection = new Connection(socket, uri);
        lock (_stateLock) _connection = connection;
        connection.Receive = Task.Run(() => ReceiveLoopAsync(connection));
        return connection;
    }

    private void SetState(GatewayClientState state, Exception? error)
    {
        GatewayClientState previous;
        lock (_stateLock)
        {
            previous = _state;
            if (previous == state || previous == GatewayClientState.Closed) return;
            _state = state;
        }
        try
        {
            StateChanged?.Invoke(this, new GatewayClientStateChangedEventArgs(previous, state, error));
        }
        catch (Exception ex)
        {
            LogHandlerFailure("StateChanged", ex);
        }
    }

    // ---- sending ------------------------------------------------------------------------------------------

    /// <summary>
    /// Writes one message under the send lock (a WebSocket allows one sender at a time) into the client's one reusable
    /// buffer and sends it. The user's token only stops the wait for the lock: cancelling a send in the middle of a
    /// frame would leave the socket unusable.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendAsync(Connection connection, Outgoing message, CancellationToken cancellationToken = default)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_disposed.IsCancellationRequested && message.Kind == Outgoing.Kinds.Request) throw new ObjectDisposedException(nameof(GatewayClient));
            _sendBuffer.Clear();
            message.WriteTo(_codec, _sendBuffer);
            await connection.Socket.SendAsync(_sendBuffer.WrittenMemory, _codec.MessageType, endOfMessage: true, CancellationToken.None).ConfigureAwait(false);
            Interlocked.Add(ref _bytesSent, _sendBuffer.WrittenCount);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Tells the server to stop a call (its timeout passed, its caller cancelled or left a stream), without waiting.</summary>
    internal void SendCancelInBackground(long id, object? connection)
    {
        if (connection is not Connection c || !ReferenceEquals(c, _connection)) return; // that connection is gone, and the call with it
        _ = SendQuietlyAsync(c, Outgoing.Cancel(id));
    }

    private async Task SendQuietlyAsync(Connection connection, Outgoing message)
    {
        try
        {
            await SendAsync(connection, message).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection is going down: its end is handled (and logged) by the receive loop.
        }
    }

    // ---- receiving ----------------------------------------------------------------------------------------

    private async Task ReceiveLoopAsync(Connection connection)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        int count = 0;
        Exception? error = null;
        try
        {
            while (true)
            {
                if (buffer.Length - count < 4096)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, count).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var received = await connection.Socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None).ConfigureAwait(false);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    connection.CloseStatus = connection.Socket.CloseStatus;
                    connection.CloseDescription = connection.Socket.CloseStatusDescription;
                    await AnswerCloseAsync(connection).ConfigureAwait(false);
                    break;
                }
                count += received.Count;
                Interlocked.Add(ref _bytesReceived, received.Count);
                if (count > _options.MaxMessageBytes)
                {
                    error = new WebSocketException(WebSocketError.Faulted, $"a message over MaxMessageBytes ({_options.MaxMessageBytes}) was received");
                    await CloseQuietlyAsync(connection, WebSocketCloseStatus.MessageTooBig, "message too big").ConfigureAwait(false);
                    break;
                }
                if (!received.EndOfMessage) continue;
                if (received.MessageType != _codec.MessageType)
                {
                    error = new WebSocketException(WebSocketError.Faulted, $"a {received.MessageType} message arrived on a {_codec.Subprotocol} connection");
                    await CloseQuietlyAsync(connection, WebSocketCloseStatus.InvalidMessageType, "wrong frame type for the subprotocol").ConfigureAwait(false);
                    break;
                }
                try
                {
                    HandleMessage(connection, buffer.AsMemory(0, count));
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A fault in handling one message (a bug, a hostile value) must not stop the loop every call waits on.
                    LogHandlerFailure("message handling", ex);
                }
                count = 0;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            error = ex;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        OnConnectionEnded(connection, error);
    }

    private static async Task AnswerCloseAsync(Connection connection)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            if (connection.Socket.State == WebSocketState.CloseReceived)
                await connection.Socket.CloseOutputAsync(connection.Socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, null, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private static async Task CloseQuietlyAsync(Connection connection, WebSocketCloseStatus status, string description)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await connection.Socket.CloseOutputAsync(status, description, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private void HandleMessage(Connection connection, ReadOnlyMemory<byte> bytes)
    {
        if (!_codec.TryRead(bytes, out var message, out var problem))
        {
            ClientLog.BadMessage(_log, problem!);
            return;
        }
        if (message.Event is { } eventName)
        {
            DispatchEvent(eventName, message.Topic, message.Data);
            return;
        }
        if (message.Path is { } path)
        {
            if (message.HasId) StartServerCall(connection, path, in message);
            return;
        }
        if (!message.HasId)
        {
            if (message.HasError)
            {
                var error = _codec.ReadError(message.Error);
                ClientLog.UnmatchedError(_log, error.Code, error.Message);
            }
            return;
        }
        if (message.Cancel)
        {
            if (connection.TryTakeServerCall(message.Id, null, out var cts))
            {
                try { cts!.Cancel(); } catch (ObjectDisposedException) { }
            }
            return;
        }
        bool terminal = message.HasResult || message.HasError || message.Done;
        PendingCall? call;
        lock (_pendingLock)
        {
            if (_pending.TryGetValue(message.Id, out call) && terminal) _pending.Remove(message.Id);
        }
        // No call: a late answer to a call that timed out or was cancelled.
        if (call is null) return;
        if (terminal) call.OnTerminal(_codec, in message);
        else call.OnItem(_codec, in message);
    }

    // ---- loss and reconnect -------------------------------------------------------------------------------

    private void OnConnectionEnded(Connection connection, Exception? error)
    {
        bool reconnect, immediate = connection.CloseStatus == WebSocketCloseStatus.EndpointUnavailable;
        lock (_stateLock)
        {
            connection.Ended = true;
            if (ReferenceEquals(_connection, connection)) _connection = null;
            // Only a connection that was in service starts a reconnect; one lost while the reconnect loop restores
            // subscriptions on it is that loop's business (it sees Ended and moves on).
            reconnect = _state == GatewayClientState.Connected && !_disposed.IsCancellationRequested;
        }
        connection.CancelServerCalls();
        string reason = connection.CloseStatus is { } status
            ? $"closed by the server: {(int)status} {connection.CloseDescription}"
            : error?.Message ?? "closed";
        int failed = FailPending(connection, new GatewayConnectionLostException($"the connection to {connection.Uri} was lost ({reason}) before the answer", error));
        connection.Socket.Dispose();
        if (_disposed.IsCancellationRequested) return;
        ClientLog.ConnectionLost(_log, connection.Uri, reason, failed);
        if (!reconnect) return;
        if (!_options.Reconnect.Enabled)
        {
            SetState(GatewayClientState.Closed, error);
            return;
        }
        SetState(GatewayClientState.Reconnecting, error);
        lock (_stateLock) _reconnecting = Task.Run(() => ReconnectLoopAsync(immediate));
    }

    /// <summary>Fails the pending calls of one connection (all, for null); returns how many.</summary>
    private int FailPending(Connection? connection, Exception error)
    {
        List<PendingCall> failed = [];
        lock (_pendingLock)
        {
            foreach (var (id, call) in _pending)
            {
                if (connection is null || ReferenceEquals(call.Connection, connection)) failed.Add(call);
            }
            foreach (var call in failed) _pending.Remove(call.Id);
        }
        foreach (var call in failed) call.Fail(error);
        return failed.Count;
    }

    private async Task ReconnectLoopAsync(bool immediate)
    {
        var reconnect = _options.Reconnect;
        for (int attempt = 1; ; attempt++)
        {
            _uriIndex = (_uriIndex + 1) % _uris.Length;
            var uri = _uris[_uriIndex];
            // A 1001 is a node going away on purpose (a rolling deploy): the first attempt goes out at once.
            var delay = attempt == 1 && immediate ? TimeSpan.Zero : Backoff(attempt - 1, reconnect);
            ClientLog.ReconnectScheduled(_log, attempt, uri, (long)delay.TotalMilliseconds);
            Connection? connection = null;
            try
            {
                if (delay > TimeSpan.Zero) await Task.Delay(delay, _disposed.Token).ConfigureAwait(false);
                connection = await OpenAsync(uri, _disposed.Token).ConfigureAwait(false);
                int topics = await RestoreSubscriptionsAsync().ConfigureAwait(false);
                bool live;
                lock (_stateLock) live = !connection.Ended;
                if (live)
                {
                    SetState(GatewayClientState.Connected, null);
                    ClientLog.Reconnected(_log, uri, attempt, topics);
                    // Lost again between the check and now: that loss saw Reconnecting and left the restart to us.
                    lock (_stateLock) live = !connection.Ended;
                    if (live) return;
                    SetState(GatewayClientState.Reconnecting, null);
                }
            }
            catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A connection that opened but could not be made ready is not kept half-restored: the next attempt starts clean.
                connection?.Socket.Abort();
                ClientLog.ReconnectFailed(_log, attempt, uri, ex.Message);
                if (reconnect.MaxAttempts > 0 && attempt >= reconnect.MaxAttempts)
                {
                    ClientLog.GaveUp(_log, attempt);
                    SetState(GatewayClientState.Closed, ex);
                    return;
                }
            }
        }
    }

    /// <summary>min(MaxDelay, InitialDelay · Multiplier^n), then a random point in its upper half (jitter: clients that lost
    /// the same node do not all come back at the same instant).</summary>
    internal static TimeSpan Backoff(int n, ReconnectOptions options)
    {
        double capMs = options.MaxDelay.TotalMilliseconds;
        double ms = Math.Min(capMs, options.InitialDelay.TotalMilliseconds * Math.Pow(options.Multiplier, Math.Min(n, 64)));
        return TimeSpan.FromMilliseconds(ms / 2 + Random.Shared.NextDouble() * ms / 2);
    }

    internal void LogHandlerFailure(string what, Exception ex) => ClientLog.HandlerFailed(_log, what, ex);
}
