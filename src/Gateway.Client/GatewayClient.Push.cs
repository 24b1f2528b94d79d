using System.Text.Json.Serialization;
using Gateway.Client.Internal;

namespace Gateway.Client;

public sealed partial class GatewayClient
{
    private readonly object _handlersLock = new();
    // Copy-on-write arrays: dispatching an event reads a snapshot without a lock or an allocation.
    private readonly Dictionary<string, EventEntry[]> _eventHandlers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TopicState> _topics = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ServerCallEntry> _serverCallHandlers = new(StringComparer.Ordinal);

    private sealed class TopicState(string topic)
    {
        public string Topic { get; } = topic;
        public EventEntry[] Handlers = [];
        /// <summary>The $subscribe of the first handler, which later handlers of the same topic wait for.</summary>
        public Task? Subscribing;
    }

    internal sealed record TopicInput([property: JsonPropertyName("topic")] string Topic);

    /// <summary>
    /// Subscribes to a topic (<c>$subscribe</c>) and calls <paramref name="handler"/> with every event published to it, its data
    /// read as <typeparamref name="T"/>. The subscription is restored after every reconnect. Several handlers of one topic
    /// share one server subscription. Handlers run on the client's receive loop, in the order events arrive: keep them
    /// short, and never block on a call to the server inside one (start it and return). An exception in a handler is logged.
    /// </summary>
    /// <param name="topic">The topic, e.g. <c>room:lobby</c>; the server must allow it (<c>Gateway:Topics:ClientSubscribe</c> or a plugin's policy).</param>
    /// <param name="handler">Called with each event.</param>
    /// <param name="cancellationToken">Cancels the subscribe call.</param>
    /// <returns>Disposing it removes the handler; the last handler of a topic unsubscribes (<c>$unsubscribe</c>).</returns>
    /// <exception cref="RpcException"><c>PERMISSION_DENIED</c> for a topic not open to this client, and the other errors of <c>$subscribe</c>.</exception>
    public async ValueTask<IAsyncDisposable> SubscribeAsync<T>(string topic, Action<TopicEvent<T>> handler, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentNullException.ThrowIfNull(handler);
        var entry = new TopicEventEntry<T>(handler);
        TopicState state;
        Task subscribing;
        lock (_handlersLock)
        {
            if (!_topics.TryGetValue(topic, out state!))
            {
                state = new TopicState(topic);
                _topics[topic] = state;
            }
            state.Handlers = [.. state.Handlers, entry];
            subscribing = state.Subscribing ??= SubscribeOnServerAsync(topic, cancellationToken);
        }
        try
        {
            await subscribing.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            lock (_handlersLock)
            {
                // A failed $subscribe is not kept: the next SubscribeAsync of this topic asks the server again.
                if (ReferenceEquals(state.Subscribing, subscribing) && subscribing.IsCompleted) state.Subscribing = null;
            }
            await RemoveTopicHandlerAsync(state, entry, unsubscribe: false).ConfigureAwait(false);
            throw;
        }
        return new Subscription(this, state, entry);
    }

    private async Task SubscribeOnServerAsync(string topic, CancellationToken cancellationToken) =>
        await CallAsync<System.Text.Json.JsonElement>("$subscribe", new TopicInput(topic), cancellationToken).ConfigureAwait(false);

    private async ValueTask RemoveTopicHandlerAsync(TopicState state, EventEntry entry, bool unsubscribe)
    {
        bool last;
        lock (_handlersLock)
        {
            state.Handlers = Array.FindAll(state.Handlers, h => !ReferenceEquals(h, entry));
            last = state.Handlers.Length == 0 && _topics.TryGetValue(state.Topic, out var current) && ReferenceEquals(current, state);
            if (last) _topics.Remove(state.Topic);
        }
        if (!last || !unsubscribe || _connection is null) return;
        try
        {
            await CallAsync<System.Text.Json.JsonElement>("$unsubscribe", new TopicInput(state.Topic)).ConfigureAwait(false);
        }
        catch (GatewayConnectionLostException)
        {
            // Gone with the connection anyway; it is not restored on reconnect since it left the table above.
        }
    }

    private sealed class Subscription(GatewayClient client, TopicState state, EventEntry entry) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync() =>
            Interlocked.Exchange(ref _disposed, 1) == 0 ? client.RemoveTopicHandlerAsync(state, entry, unsubscribe: true) : default;
    }

    /// <summary>Subscribes again to every topic after a reconnect; a topic the server now refuses is logged and kept for the next one.</summary>
    private async Task<int> RestoreSubscriptionsAsync()
    {
        string[] topics;
        lock (_handlersLock) topics = [.. _topics.Keys];
        int restored = 0;
        foreach (var topic in topics)
        {
            try
            {
                await CallAsync<System.Text.Json.JsonElement>("$subscribe", new TopicInput(topic), new CallOptions { Timeout = _options.ConnectTimeout }).ConfigureAwait(false);
                restored++;
            }
            catch (GatewayConnectionLostException)
            {
                throw; // the new connection is gone too: the reconnect loop tries again
            }
            catch (RpcException ex)
            {
                ClientLog.ResubscribeFailed(_log, topic, ex.Code + " " + ex.Message);
            }
        }
        return restored;
    }

    /// <summary>
    /// Calls <paramref name="handler"/> with the data of every event named <paramref name="eventName"/> (from any topic, a
    /// direct event to this connection or its user, or a broadcast), read as <typeparamref name="T"/>. Runs on the receive
    /// loop like the handlers of <see cref="SubscribeAsync{T}"/>.
    /// </summary>
    /// <param name="eventName">The event's name, e.g. <c>chat.direct</c>.</param>
    /// <param name="handler">Called with each event's data.</param>
    /// <returns>Disposing it removes the handler.</returns>
    public IDisposable On<T>(string eventName, Action<T?> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        ArgumentNullException.ThrowIfNull(handler);
        var entry = new NamedEventEntry<T>(handler);
        lock (_handlersLock)
        {
            _eventHandlers[eventName] = _eventHandlers.TryGetValue(eventName, out var existing) ? [.. existing, entry] : [entry];
        }
        return new Registration(() =>
        {
            lock (_handlersLock)
            {
                if (!_eventHandlers.TryGetValue(eventName, out var existing)) return;
                var left = Array.FindAll(existing, h => !ReferenceEquals(h, entry));
                if (left.Length == 0) _eventHandlers.Remove(eventName);
                else _eventHandlers[eventName] = left;
            }
        });
    }

    /// <summary>
    /// Answers calls the server makes to this client at <paramref name="path"/> (a plugin's <c>IConnections.CallAsync</c>, e.g.
    /// <c>client/echo</c>): the handler's result goes back as <c>result</c>; an <see cref="RpcException"/> it throws goes back
    /// as that error; any other exception as <c>INTERNAL</c> (logged here). The server's cancel (its timeout, or its caller's
    /// cancellation) fires the handler's token, and nothing is sent back then. Handlers run on the thread pool, so they may
    /// call the server. A call to a path with no handler is answered <c>NOT_FOUND</c>.
    /// </summary>
    /// <param name="path">The path the server calls.</param>
    /// <param name="handler">Gets the input (read as <typeparamref name="TInput"/>; default when there is none) and the call's token.</param>
    /// <returns>Disposing it removes the handler.</returns>
    /// <exception cref="InvalidOperationException">The path has a handler already.</exception>
    public IDisposable Handle<TInput, TResult>(string path, Func<TInput?, CancellationToken, ValueTask<TResult>> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(handler);
        var entry = new ServerCallEntry<TInput, TResult>(handler);
        lock (_handlersLock)
        {
            if (!_serverCallHandlers.TryAdd(path, entry)) throw new InvalidOperationException($"'{path}' has a handler already.");
        }
        return new Registration(() =>
        {
            lock (_handlersLock)
            {
                if (_serverCallHandlers.TryGetValue(path, out var current) && ReferenceEquals(current, entry)) _serverCallHandlers.Remove(path);
            }
        });
    }

    private sealed class Registration(Action remove) : IDisposable
    {
        private Action? _remove = remove;

        public void Dispose() => Interlocked.Exchange(ref _remove, null)?.Invoke();
    }

    private void DispatchEvent(string name, string? topic, ReadOnlyMemory<byte> data)
    {
        EventEntry[]? named, subscribed = null;
        lock (_handlersLock)
        {
            _eventHandlers.TryGetValue(name, out named);
            if (topic is not null && _topics.TryGetValue(topic, out var state)) subscribed = state.Handlers;
        }
        if (named is not null) Invoke(named, name, topic, data);
        if (subscribed is not null) Invoke(subscribed, name, topic, data);
    }

    private void Invoke(EventEntry[] handlers, string name, string? topic, ReadOnlyMemory<byte> data)
    {
        foreach (var handler in handlers)
        {
            try
            {
                handler.Invoke(_codec, data, name, topic);
            }
            catch (Exception ex)
            {
                LogHandlerFailure("event " + name, ex);
            }
        }
    }

    private void StartServerCall(Connection connection, string path, in IncomingMessage message)
    {
        ServerCallEntry? entry;
        lock (_handlersLock) _serverCallHandlers.TryGetValue(path, out entry);
        if (entry is null)
        {
            ClientLog.NoServerCallHandler(_log, path);
            AnswerServerCallInBackground(connection, message.Id, null, new RpcException(RpcErrorCodes.NotFound, $"this client has no handler for '{path}'"));
            return;
        }
        entry.Start(this, connection, message.Id, _codec, in message);
    }

    internal void AnswerServerCallInBackground(Connection connection, long id, object? result, RpcException? error) =>
        _ = AnswerServerCallAsync(connection, id, result, null, error);

    internal async Task AnswerServerCallAsync(Connection connection, long id, object? result, Type? resultType, RpcException? error)
    {
        if (!ReferenceEquals(connection, _connection)) return; // the call died with its connection
        try
        {
            await SendAsync(connection, error is null ? Outgoing.Result(id, result, resultType) : Outgoing.Failure(id, error)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Net.WebSockets.WebSocketException or IOException or ObjectDisposedException)
        {
            // The connection is going down: the server fails the call as UNAVAILABLE on its side.
        }
        catch (Exception ex) when (ex is NotSupportedException or System.Text.Json.JsonException or InvalidOperationException)
        {
            // The handler's result cannot be serialized: the server still gets an answer.
            LogHandlerFailure("server call result", ex);
            await SendAsync(connection, Outgoing.Failure(id, new RpcException(RpcErrorCodes.Internal, "internal error"))).ConfigureAwait(false);
        }
    }
}
