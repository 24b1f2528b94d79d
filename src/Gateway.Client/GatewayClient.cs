using System.Runtime.CompilerServices;
using Gateway.Client.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Client;

/// <summary>
/// A client of the gateway over one WebSocket: requests (<see cref="CallAsync{TResult}(string, object?, CancellationToken)"/>),
/// notifications (<see cref="NotifyAsync"/>), streams (<see cref="StreamAsync{T}"/>), topic subscriptions
/// (<see cref="SubscribeAsync{T}"/>), events (<see cref="On{T}"/>) and calls from the server (<see cref="Handle{TInput, TResult}"/>).
/// It reconnects by itself after a lost connection (<see cref="ReconnectOptions"/>), asks for a fresh access token on every
/// attempt and restores its topic subscriptions; calls in flight at the loss fail with
/// <see cref="GatewayConnectionLostException"/> and are never sent again by the client.
/// Thread-safe: calls may be made concurrently from any thread.
/// </summary>
/// <example>
/// <code>
/// await using var client = new GatewayClient(new Uri("ws://localhost:8080/ws"));
/// await client.ConnectAsync();
/// var reply = await client.CallAsync&lt;Msg&gt;("echo/typed", new Msg { Text = "hi" });
/// </code>
/// </example>
public sealed partial class GatewayClient : IAsyncDisposable
{
    private readonly GatewayClientOptions _options;
    private readonly Uri[] _uris;
    private readonly IClientCodec _codec;
    private readonly ILogger _log;
    private readonly object _pendingLock = new();
    private readonly Dictionary<long, PendingCall> _pending = [];
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly PooledBufferWriter _sendBuffer = new();
    private readonly CancellationTokenSource _disposed = new();
    private long _nextId;

    /// <summary>Creates a client of one endpoint; <see cref="ConnectAsync"/> opens the connection.</summary>
    /// <param name="uri">The gateway's RPC endpoint, e.g. <c>ws://localhost:8080/ws</c>.</param>
    /// <param name="configure">Changes the default <see cref="GatewayClientOptions"/>.</param>
    public GatewayClient(Uri uri, Action<GatewayClientOptions>? configure = null) : this(Build(uri, configure)) { }

    /// <summary>Creates a client with these options (at least one of <see cref="GatewayClientOptions.Uris"/>).</summary>
    public GatewayClient(GatewayClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Uris.Count == 0) throw new ArgumentException("GatewayClientOptions.Uris needs at least one endpoint (ws:// or wss://).", nameof(options));
        foreach (var uri in options.Uris)
        {
            if (uri.Scheme is not ("ws" or "wss")) throw new ArgumentException($"'{uri}' is not a ws:// or wss:// address.", nameof(options));
        }
        if (options.MaxMessageBytes < 1024) throw new ArgumentOutOfRangeException(nameof(options), "MaxMessageBytes must be at least 1024.");
        if (options.MaxBufferedStreamItems < 1) throw new ArgumentOutOfRangeException(nameof(options), "MaxBufferedStreamItems must be at least 1.");
        if (options.Reconnect.Multiplier < 1) throw new ArgumentOutOfRangeException(nameof(options), "Reconnect.Multiplier must be at least 1.");
        _options = options;
        _uris = [.. options.Uris];
        _codec = options.Format switch
        {
            GatewayWireFormat.Json => new JsonClientCodec(SerializerOptions(options.JsonSerializerOptions)),
            GatewayWireFormat.MessagePack => new MessagePackClientCodec(SerializerOptions(options.JsonSerializerOptions)),
            _ => throw new ArgumentOutOfRangeException(nameof(options), $"unknown format {options.Format}"),
        };
        _log = options.LoggerFactory?.CreateLogger("Gateway.Client") ?? NullLogger.Instance;
    }

    /// <summary>
    /// A read-only copy of the caller's options with a resolver behind theirs: options never used yet have none (GetTypeInfo
    /// would throw), and a source-generated context does not know the client's own envelope inputs ($subscribe's).
    /// </summary>
    private static System.Text.Json.JsonSerializerOptions SerializerOptions(System.Text.Json.JsonSerializerOptions user)
    {
        var copy = new System.Text.Json.JsonSerializerOptions(user);
        var reflection = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver();
        copy.TypeInfoResolver = user.TypeInfoResolver is { } theirs
            ? System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.Combine(theirs, reflection)
            : reflection;
        copy.MakeReadOnly();
        return copy;
    }

    private static GatewayClientOptions Build(Uri uri, Action<GatewayClientOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var options = new GatewayClientOptions();
        options.Uris.Add(uri);
        configure?.Invoke(options);
        return options;
    }

    /// <summary>The options this client was created with.</summary>
    public GatewayClientOptions Options => _options;

    /// <summary>
    /// Sends a request and returns its result, read as <typeparamref name="TResult"/> (use <see cref="System.Text.Json.JsonElement"/>
    /// for any JSON). Uses <see cref="GatewayClientOptions.DefaultCallTimeout"/>.
    /// </summary>
    /// <param name="path">The procedure, e.g. <c>echo/typed</c>.</param>
    /// <param name="input">The input, serialized as JSON (null: no input).</param>
    /// <param name="cancellationToken">Cancels the call: <c>{"id","cancel":true}</c> is sent and the call throws <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="RpcException">The server's error answer, or <c>DEADLINE_EXCEEDED</c> at the timeout.</exception>
    /// <exception cref="GatewayConnectionLostException">The connection was lost before the answer, or the client is not connected.</exception>
    public ValueTask<TResult> CallAsync<TResult>(string path, object? input = null, CancellationToken cancellationToken = default) =>
        CallCoreAsync<TResult>(path, input, null, default, cancellationToken);

    /// <summary>Sends a request with per-call settings (a timeout) and returns its result.</summary>
    /// <inheritdoc cref="CallAsync{TResult}(string, object?, CancellationToken)"/>
    public ValueTask<TResult> CallAsync<TResult>(string path, object? input, CallOptions options, CancellationToken cancellationToken = default) =>
        CallCoreAsync<TResult>(path, input, null, options, cancellationToken);

    /// <summary>
    /// Sends a request and returns its result; each <c>{"id","progress":…}</c> the handler reports before it is read as
    /// <typeparamref name="TProgress"/> and passed to <paramref name="progress"/> (a <see cref="Progress{T}"/> posts to
    /// the caller's synchronization context; another implementation is called on the client's receive loop, so keep it short).
    /// </summary>
    /// <inheritdoc cref="CallAsync{TResult}(string, object?, CancellationToken)"/>
    public ValueTask<TResult> CallAsync<TResult, TProgress>(string path, object? input, IProgress<TProgress> progress, CallOptions options = default,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(progress);
        return CallCoreAsync<TResult>(path, input, new ProgressSink<TProgress>(progress), options, cancellationToken);
    }

    private ValueTask<TResult> CallCoreAsync<TResult>(string path, object? input, IProgressSink? progress, CallOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled<TResult>(cancellationToken);
        var connection = _connection;
        if (connection is null) return ValueTask.FromException<TResult>(NotConnected());
        var call = UnaryCall<TResult>.Rent();
        call.Start(this, progress);
        call.Id = Interlocked.Increment(ref _nextId);
        call.Connection = connection;
        var result = call.Task;
        lock (_pendingLock) _pending.Add(call.Id, call);
        // Armed before the send: an answer may arrive before SendAsync returns, and a timeout must also cover a send that
        // waits. A cancel that fires between here and the send may reach the server first; the server then ignores it
        // and the late answer is dropped here.
        call.Arm(options.Timeout ?? _options.DefaultCallTimeout, cancellationToken);
        var send = SendAsync(connection, Outgoing.Request(call.Id, path, input));
        if (send.IsCompletedSuccessfully) return result;
        return SendThenAwaitAsync(send, call, result);
    }

    private async ValueTask<TResult> SendThenAwaitAsync<TResult>(ValueTask send, PendingCall call, ValueTask<TResult> result)
    {
        try
        {
            await send.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            if (TryTakePending(call.Id, call)) call.Fail(SendFailure(ex));
        }
        return await result.ConfigureAwait(false);
    }

    /// <summary>Sends a notification: no id, no answer, not even an error; completes once the message is written to the socket.</summary>
    /// <param name="path">The procedure, e.g. <c>echo/log</c>.</param>
    /// <param name="input">The input (null: none).</param>
    /// <param name="cancellationToken">Stops waiting for the send lock; a message being written is finished.</param>
    /// <exception cref="GatewayConnectionLostException">The client is not connected, or the connection failed while sending.</exception>
    public async ValueTask NotifyAsync(string path, object? input = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        cancellationToken.ThrowIfCancellationRequested();
        var connection = _connection ?? throw NotConnected();
        try
        {
            await SendAsync(connection, Outgoing.Request(0, path, input), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw SendFailure(ex);
        }
    }

    /// <summary>
    /// Calls a subscription procedure and yields its items as they arrive, read as <typeparamref name="T"/>; the loop ends when
    /// the server sends <c>done</c>. The request is sent when the enumeration starts. Breaking out of the loop, disposing the
    /// enumerator or cancelling <paramref name="cancellationToken"/> sends <c>{"id","cancel":true}</c>. Items the loop has not
    /// taken yet are buffered up to <see cref="GatewayClientOptions.MaxBufferedStreamItems"/>.
    /// </summary>
    /// <param name="path">The procedure, e.g. <c>echo/count</c>.</param>
    /// <param name="input">The input (null: none).</param>
    /// <param name="cancellationToken">Cancels the stream (also settable with <c>WithCancellation</c>).</param>
    /// <exception cref="RpcException">The server's error, at the point of the stream where it came.</exception>
    /// <exception cref="GatewayConnectionLostException">The connection was lost before the stream ended.</exception>
    public async IAsyncEnumerable<T> StreamAsync<T>(string path, object? input = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        cancellationToken.ThrowIfCancellationRequested();
        var connection = _connection ?? throw NotConnected();
        var call = new StreamCall<T>(this, _options.MaxBufferedStreamItems) { Id = Interlocked.Increment(ref _nextId), Connection = connection };
        lock (_pendingLock) _pending.Add(call.Id, call);
        try
        {
            await SendAsync(connection, Outgoing.Request(call.Id, path, input)).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            if (TryTakePending(call.Id, call)) call.Fail(SendFailure(ex));
        }
        try
        {
            while (await call.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (call.TryRead(out var item)) yield return item;
            }
        }
        finally
        {
            // The caller left early (break, an exception, cancellation): the server stops the stream.
            if (!call.Finished && TryTakePending(call.Id, call))
            {
                call.Finished = true;
                SendCancelInBackground(call.Id, connection);
            }
        }
    }

    /// <summary>Removes a pending call; true for the one caller that gets to complete it.</summary>
    internal bool TryTakePending(long id, PendingCall call)
    {
        lock (_pendingLock)
        {
            if (_pending.TryGetValue(id, out var current) && ReferenceEquals(current, call))
            {
                _pending.Remove(id);
                return true;
            }
        }
        return false;
    }

    private Exception SendFailure(Exception ex) => ex switch
    {
        RpcException => ex,
        System.Net.WebSockets.WebSocketException or IOException or ObjectDisposedException =>
            new GatewayConnectionLostException("the connection failed while the call was sent: " + ex.Message, ex),
        _ => ex, // serialization of the input failed: the caller's own error, as System.Text.Json reported it
    };

    private GatewayConnectionLostException NotConnected() => new(State switch
    {
        GatewayClientState.Disconnected => "the client is not connected: call ConnectAsync first",
        GatewayClientState.Closed => "the client is closed",
        _ => "the client is not connected (it is reconnecting); retry once State is Connected",
    });

    /// <summary>
    /// Closes the connection (1000), stops reconnecting and fails what is still pending with <see cref="ObjectDisposedException"/>.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested) return;
        _disposed.Cancel();
        Connection? connection;
        lock (_stateLock) connection = _connection;
        if (connection is not null)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await connection.Socket.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "client closing", timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is System.Net.WebSockets.WebSocketException or OperationCanceledException or ObjectDisposedException or IOException or InvalidOperationException)
            {
                connection.Socket.Abort(); // the server did not answer the close in time, or the socket was already gone
            }
            try { await connection.Receive.ConfigureAwait(false); }
            catch (Exception) { } // the loop's own failure was handled (and logged) where it happened
        }
        if (_reconnecting is { } reconnect)
        {
            try { await reconnect.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
        FailPending(null, new ObjectDisposedException(nameof(GatewayClient)));
        SetState(GatewayClientState.Closed, null);
        _sendLock.Wait();
        _sendBuffer.Dispose();
        _sendLock.Release();
    }
}
