using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.WebSockets;
using Gateway.Server.Backplane;
using Gateway.Server.Options;
using Gateway.Server.Rpc;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Logging;
using Gateway.Server.Codec;

namespace Gateway.Server.Push;

/// <summary>
/// Server push for one node: the local connections (by id and by user), the local topics, server-to-client calls,
/// and the routing of everything that concerns another node through the <see cref="IBackplane"/>. Local delivery
/// never waits for the backplane: a publish reaches this node's subscribers first, then goes to the other nodes.
/// </summary>
/// <remarks>
/// Fan-out: a publish serializes its event frame once into a <see cref="SharedFrame"/> and queues the same bytes on
/// every subscriber (found through the topic's own member set, never by scanning connections); each queueing goes
/// through the subscriber's slow-consumer policy, so a slow one is dropped or closed and never slows the others.
/// Backplane interest (a topic or a user on this node) is desired state reconciled per key under a striped lock,
/// so subscribe/unsubscribe transitions for one key reach the broker in order.
/// </remarks>
public sealed class PushHub : ITopics, IConnections, IBackplaneReceiver, IAsyncDisposable
{
    private readonly IBackplane _backplane;
    private readonly JsonSerializerOptions _json;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _log;
    private readonly int _maxSubscriptions;
    private readonly int _maxServerCalls;
    private readonly ConcurrentDictionary<long, RpcConnection> _connections = new();
    private readonly ConcurrentDictionary<string, Interest> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Interest> _users = new(StringComparer.Ordinal);
    // Keys the backplane has been told about (desired state, so kept even when telling it failed).
    private readonly ConcurrentDictionary<string, byte> _remoteTopics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _remoteUsers = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim[] _stripes;
    // Requests this node sent to other nodes (calls, remote subscribes), by correlation id.
    private readonly ConcurrentDictionary<long, ServerCall> _outgoing = new();
    // Calls other nodes asked this node to make, for their cancel.
    private readonly ConcurrentDictionary<(string Node, long Correlation), ForwardedServerCall> _forwarded = new();
    private long _nextCorrelation;
    private volatile bool _started;
    private volatile bool _stopped;

    /// <summary>How long a node waits for another node's answer to a remote subscribe or unsubscribe.</summary>
    internal static readonly TimeSpan RemoteRequestTimeout = TimeSpan.FromSeconds(10);

    public PushHub(IBackplane backplane, JsonSerializerOptions json, GatewayMetrics metrics, ILogger logger,
        int maxSubscriptionsPerConnection = 100, int maxServerCallsPerConnection = 64, string? nodeId = null)
    {
        _backplane = backplane;
        _json = json;
        _metrics = metrics;
        _log = logger;
        _maxSubscriptions = maxSubscriptionsPerConnection;
        _maxServerCalls = maxServerCallsPerConnection;
        NodeId = nodeId ?? NewNodeId();
        _stripes = new SemaphoreSlim[64];
        for (int i = 0; i < _stripes.Length; i++) _stripes[i] = new SemaphoreSlim(1, 1);
        metrics.ObserveTopics(() => _topics.Count, () => _backplane.IsConnected);
    }

    /// <summary>This node's id: random per process start, so a restarted node never receives messages meant for its predecessor's connections.</summary>
    public string NodeId { get; }
    public IBackplane Backplane => _backplane;
    internal JsonSerializerOptions Json => _json;
    internal int MaxServerCallsPerConnection => _maxServerCalls;
    /// <summary>Topics with at least one subscriber on this node.</summary>
    public int TopicCount => _topics.Count;
    /// <summary>Subscribers of a topic on this node.</summary>
    public int SubscriberCount(string topic) => _topics.TryGetValue(topic, out var t) ? t.Count : 0;
    /// <summary>Connections of a user on this node.</summary>
    public int UserConnectionCount(string userId) => _users.TryGetValue(userId, out var u) ? u.Count : 0;
    public int ConnectionCount => _connections.Count;

    private static string NewNodeId()
    {
        // 10 characters of base32 (50 bits): short enough for logs, unique enough for any cluster.
        const string alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        Span<byte> bytes = stackalloc byte[10];
        RandomNumberGenerator.Fill(bytes);
        Span<char> chars = stackalloc char[10];
        for (int i = 0; i < chars.Length; i++) chars[i] = alphabet[bytes[i] & 31];
        return new string(chars);
    }

    internal static bool TryParseConnectionId(string? id, out string node, out long local)
    {
        node = "";
        local = 0;
        if (id is null) return false;
        int dot = id.LastIndexOf('.');
        if (dot <= 0 || !long.TryParse(id.AsSpan(dot + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out local)) return false;
        node = id.Substring(0, dot);
        return true;
    }

    // ---- lifecycle ---------------------------------------------------------------------------------

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_started) return;
        await _backplane.StartAsync(NodeId, this, cancellationToken).ConfigureAwait(false);
        _started = true;
        PushLog.Started(_log, NodeId, _backplane.Name);
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!_started || _stopped) return;
        _stopped = true;
        foreach (var call in _outgoing.Values) call.OnFailed(ErrorCode.Unavailable, "this gateway node is stopping");
        _outgoing.Clear();
        try { await _backplane.StopAsync(cancellationToken).ConfigureAwait(false); }
        catch (Exception ex) when (ex is not OperationCanceledException) { PushLog.BackplaneFailed(_log, "stop", ex.Message); }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _backplane.DisposeAsync().ConfigureAwait(false);
    }

    private void EnsureStarted()
    {
        if (!_started || _stopped) throw new RpcException(ErrorCode.Unavailable, _stopped ? "this gateway node is stopping" : "the gateway has not started yet");
    }

    // ---- connections -------------------------------------------------------------------------------

    internal void Register(RpcConnection connection) => _connections[connection.Session.Id] = connection;

    /// <summary>The connection is gone: out of the directory, its topics and its user; its pending calls fail.</summary>
    internal void Unregister(RpcConnection connection)
    {
        _connections.TryRemove(connection.Session.Id, out _);
        var (topics, user) = connection.Unregister();
        foreach (var topic in topics)
        {
            _metrics.Unsubscribed();
            RemoveMember(_topics, _remoteTopics, topic, connection, isTopic: true);
        }
        if (user is not null) RemoveMember(_users, _remoteUsers, user, connection, isTopic: false);
    }

    // ---- interest (topics and users), reconciled with the backplane -------------------------------

    private void AddMember(ConcurrentDictionary<string, Interest> map, string key, RpcConnection connection)
    {
        while (true)
        {
            var interest = map.GetOrAdd(key, static k => new Interest(k));
            if (interest.TryAdd(connection)) return;
            // That one was emptied and removed meanwhile: take the new one.
        }
    }

    private void RemoveMember(ConcurrentDictionary<string, Interest> map, ConcurrentDictionary<string, byte> remote, string key, RpcConnection connection, bool isTopic)
    {
        if (map.TryGetValue(key, out var interest) && interest.Remove(connection) && interest.Count == 0)
            _ = ReconcileInBackgroundAsync(map, remote, key, isTopic);
    }

    private async Task ReconcileInBackgroundAsync(ConcurrentDictionary<string, Interest> map, ConcurrentDictionary<string, byte> remote, string key, bool isTopic)
    {
        try { await ReconcileAsync(map, remote, key, isTopic, CancellationToken.None).ConfigureAwait(false); }
        catch (Exception ex) { PushLog.BackplaneFailed(_log, isTopic ? "unsubscribe " + key : "remove user", ex.Message); }
    }

    /// <summary>Brings the backplane in line with whether <paramref name="key"/> has local members, then drops an empty entry.</summary>
    private async Task ReconcileAsync(ConcurrentDictionary<string, Interest> map, ConcurrentDictionary<string, byte> remote, string key, bool isTopic, CancellationToken cancellationToken)
    {
        var gate = _stripes[(StringComparer.Ordinal.GetHashCode(key) & 0x7FFFFFFF) % _stripes.Length];
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                bool want = map.TryGetValue(key, out var interest) && interest.Count > 0;
                bool have = remote.ContainsKey(key);
                if (want == have)
                {
                    if (!want && interest is not null && interest.TryRetire()) map.TryRemove(new KeyValuePair<string, Interest>(key, interest));
                    return;
                }
                if (!_started || _stopped)
                {
                    if (want) remote[key] = 0; else remote.TryRemove(key, out _);
                    continue;
                }
                try
                {
                    if (want)
                    {
                        // Desired state first: even if the broker is unreachable now, the backplane restores it on reconnect.
                        remote[key] = 0;
                        // Not cancellable once started: a half-done transition would leave the desired state wrong.
                        if (isTopic) await _backplane.SubscribeAsync(key, CancellationToken.None).ConfigureAwait(false);
                        else await _backplane.AddUserAsync(key, CancellationToken.None).ConfigureAwait(false);
                    }
                    else
                    {
                        remote.TryRemove(key, out _);
                        if (isTopic) await _backplane.UnsubscribeAsync(key, CancellationToken.None).ConfigureAwait(false);
                        else await _backplane.RemoveUserAsync(key, CancellationToken.None).ConfigureAwait(false);
                    }
                }
                catch (Exception ex)
                {
                    // While this node leaves the cluster its connections close and their topics empty: nothing to report then.
                    if (_stopped) continue;
                    _metrics.BackplaneError();
                    PushLog.BackplaneFailed(_log, (want ? "subscribe " : "unsubscribe ") + (isTopic ? "topic " : "user ") + key, ex.Message);
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }

    // ---- topics ------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async ValueTask<bool> SubscribeAsync(string connectionId, string topic, CancellationToken cancellationToken = default)
    {
        TopicNames.ValidateTopic(topic);
        if (!TryParseConnectionId(connectionId, out var node, out long local)) return false;
        if (node != NodeId) return await RemoteTopicRequestAsync(ClusterMessageType.Subscribe, node, local, topic, cancellationToken).ConfigureAwait(false);
        if (!_connections.TryGetValue(local, out var connection)) return false;
        return await SubscribeLocalAsync(connection, topic, cancellationToken).ConfigureAwait(false);
    }

    internal async ValueTask<bool> SubscribeLocalAsync(RpcConnection connection, string topic, CancellationToken cancellationToken)
    {
        switch (connection.TryAddTopic(topic, _maxSubscriptions))
        {
            case TopicAdd.Closed:
                return false;
            case TopicAdd.TooMany:
                throw new RpcException(ErrorCode.ResourceExhausted, $"a connection may be subscribed to at most {_maxSubscriptions} topics (Gateway:Topics:MaxSubscriptionsPerConnection)");
            case TopicAdd.Added:
                AddMember(_topics, topic, connection);
                _metrics.Subscribed();
                // Unregister may have run between the two adds: it did not see this topic, so undo it here.
                if (connection.IsUnregistered)
                {
                    RemoveMember(_topics, _remoteTopics, topic, connection, isTopic: true);
                    return false;
                }
                break;
        }
        // Subscribed already or not: the caller is told only once events from every node reach this topic. The desired
        // state (_remoteTopics) is set before the backplane call completes, so it cannot tell; the reconcile, under the
        // key's lock, waits for a call in flight and returns at once when there is none.
        await ReconcileAsync(_topics, _remoteTopics, topic, isTopic: true, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public async ValueTask<bool> UnsubscribeAsync(string connectionId, string topic, CancellationToken cancellationToken = default)
    {
        TopicNames.ValidateTopic(topic);
        if (!TryParseConnectionId(connectionId, out var node, out long local)) return false;
        if (node != NodeId) return await RemoteTopicRequestAsync(ClusterMessageType.Unsubscribe, node, local, topic, cancellationToken).ConfigureAwait(false);
        if (!_connections.TryGetValue(local, out var connection)) return false;
        return await UnsubscribeLocalAsync(connection, topic, cancellationToken).ConfigureAwait(false);
    }

    internal async ValueTask<bool> UnsubscribeLocalAsync(RpcConnection connection, string topic, CancellationToken cancellationToken)
    {
        if (!connection.RemoveTopic(topic)) return false;
        _metrics.Unsubscribed();
        if (_topics.TryGetValue(topic, out var interest) && interest.Remove(connection) && interest.Count == 0)
            await ReconcileAsync(_topics, _remoteTopics, topic, isTopic: true, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public ValueTask PublishAsync<T>(string topic, string eventName, T data, CancellationToken cancellationToken = default)
    {
        TopicNames.ValidateTopic(topic);
        TopicNames.ValidateEvent(eventName);
        EnsureStarted();
        var frame = EventFrames.Build(eventName, topic, data, TypeInfo<T>());
        ValueTask remote;
        try
        {
            _metrics.EventPublished();
            DeliverToTopic(topic, frame);
            // The backplane copies what it keeps before it returns, so the frame can go back to the pool right after.
            remote = _backplane.PublishAsync(topic, frame.Payload, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            frame.Release();
            throw Unavailable("publish to " + topic, ex);
        }
        frame.Release();
        return remote.IsCompletedSuccessfully ? default : AwaitBackplane(remote, "publish to " + topic);
    }

    private int DeliverToTopic(string topic, SharedFrame frame) =>
        _topics.TryGetValue(topic, out var interest) ? Deliver(interest.Snapshot(), frame) : 0;

    /// <summary>
    /// The fan-out loop: the same frame to every session, each under its own slow-consumer policy. References and
    /// counters are taken once for the whole loop; per subscriber it touches only the session and its outbox.
    /// </summary>
    private int Deliver(WebSocketSession[] sessions, SharedFrame frame)
    {
        if (sessions.Length == 0) return 0;
        frame.Reserve(sessions.Length);
        int delivered = 0;
        foreach (var session in sessions)
        {
            if (session.SendDroppable(frame.ShareReserved(), countSent: false)) delivered++;
        }
        _metrics.MessagesSent(delivered, frame.Length);
        _metrics.EventsDelivered(delivered);
        return delivered;
    }

    // ---- events to connections, users, everyone ----------------------------------------------------

    /// <inheritdoc />
    public async ValueTask<bool> SendEventAsync<T>(string connectionId, string eventName, T data, CancellationToken cancellationToken = default)
    {
        TopicNames.ValidateEvent(eventName);
        EnsureStarted();
        if (!TryParseConnectionId(connectionId, out var node, out long local)) return false;
        if (node == NodeId)
        {
            if (!_connections.TryGetValue(local, out var connection)) return false;
            var frame = EventFrames.Build(eventName, null, data, TypeInfo<T>());
            try { return DeliverTo(connection, frame); }
            finally { frame.Release(); }
        }
        var message = new ClusterMessageWriter(ClusterMessageType.ConnectionEvent).Int64(local);
        EventFrames.Write(message.Writer, eventName, null, data, TypeInfo<T>());
        return await SendToNodeAsync(node, message.Written, "event to " + connectionId, cancellationToken).ConfigureAwait(false);
    }

    private bool DeliverTo(RpcConnection connection, SharedFrame frame)
    {
        bool queued = connection.Session.SendDroppable(frame.Share());
        if (queued) _metrics.EventsDelivered(1);
        return queued;
    }

    /// <inheritdoc />
    public async ValueTask<bool> SendEventToUserAsync<T>(string userId, string eventName, T data, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        TopicNames.ValidateEvent(eventName);
        EnsureStarted();
        // The frame is held until the other nodes have their copy: its payload is the message body, copied once per node.
        var frame = EventFrames.Build(eventName, null, data, TypeInfo<T>());
        try
        {
            bool found = DeliverToUser(userId, frame) > 0 || UserConnectionCount(userId) > 0;
            IReadOnlyList<string> nodes;
            try { nodes = await _backplane.GetUserNodesAsync(userId, cancellationToken).ConfigureAwait(false); }
            catch (Exception ex) when (ex is not OperationCanceledException) { throw Unavailable("find the nodes of user " + userId, ex); }
            foreach (var node in nodes)
            {
                if (node == NodeId) continue;
                var message = new ClusterMessageWriter(ClusterMessageType.UserEvent, frame.Payload.Length).String(userId).Bytes(frame.Payload.Span);
                if (await SendToNodeAsync(node, message.Written, "event to user " + userId, cancellationToken).ConfigureAwait(false))
                {
                    found = true;
                }
                else
                {
                    // Nobody listens on that node's channel: it died without leaving. Clean its registration up.
                    try { await _backplane.ForgetUserNodeAsync(userId, node, cancellationToken).ConfigureAwait(false); }
                    catch (Exception ex) when (ex is not OperationCanceledException) { PushLog.BackplaneFailed(_log, "forget node " + node, ex.Message); }
                }
            }
            return found;
        }
        finally
        {
            frame.Release();
        }
    }

    private int DeliverToUser(string userId, SharedFrame frame) =>
        _users.TryGetValue(userId, out var interest) ? Deliver(interest.Snapshot(), frame) : 0;

    /// <inheritdoc />
    public ValueTask BroadcastAsync<T>(string eventName, T data, CancellationToken cancellationToken = default)
    {
        TopicNames.ValidateEvent(eventName);
        EnsureStarted();
        var frame = EventFrames.Build(eventName, null, data, TypeInfo<T>());
        ValueTask remote;
        try
        {
            DeliverToAll(frame);
            remote = _backplane.BroadcastAsync(frame.Payload, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            frame.Release();
            throw Unavailable("broadcast", ex);
        }
        frame.Release();
        return remote.IsCompletedSuccessfully ? default : AwaitBackplane(remote, "broadcast");
    }

    private void DeliverToAll(SharedFrame frame)
    {
        int delivered = 0;
        foreach (var (_, connection) in _connections)
        {
            if (connection.Session.SendDroppable(frame.Share())) delivered++;
        }
        _metrics.EventsDelivered(delivered);
    }

    // ---- users -------------------------------------------------------------------------------------

    /// <summary>Moves a connection to another user (or none): local index now, backplane registration before it completes.</summary>
    internal async ValueTask SetUserAsync(RpcConnection connection, string? userId, CancellationToken cancellationToken = default)
    {
        if (userId is { Length: 0 or > 256 }) throw new ArgumentException("a user id is 1 to 256 characters, or null", nameof(userId));
        if (!connection.TrySwapUser(userId, out var previous))
        {
            // That user already (the setter may have started its registration a moment ago): still complete only once
            // the backplane has it.
            if (userId is not null && !connection.IsUnregistered) await ReconcileAsync(_users, _remoteUsers, userId, isTopic: false, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (previous is not null) RemoveMember(_users, _remoteUsers, previous, connection, isTopic: false);
        if (userId is null) return;
        AddMember(_users, userId, connection);
        if (connection.IsUnregistered)
        {
            RemoveMember(_users, _remoteUsers, userId, connection, isTopic: false);
            return;
        }
        // As for topics: the desired state is set before the backplane call completes, so wait through the reconcile.
        await ReconcileAsync(_users, _remoteUsers, userId, isTopic: false, cancellationToken).ConfigureAwait(false);
    }

    // ---- server-to-client calls --------------------------------------------------------------------

    /// <inheritdoc />
    public async Task<TResult> CallAsync<TResult>(string connectionId, string path, object? input, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(path) || path.Length > Protocol.Rpc.JsonEnvelope.MaxPathLength)
            throw new ArgumentException("a path is 1 to 256 characters", nameof(path));
        if (timeout <= TimeSpan.Zero || timeout > TimeSpan.FromHours(1))
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "a call's timeout is between 1 ms and 1 hour");
        cancellationToken.ThrowIfCancellationRequested();
        EnsureStarted();
        if (!TryParseConnectionId(connectionId, out var node, out long local))
            throw new RpcException(ErrorCode.NotFound, $"no connection '{connectionId}'");
        var call = new TypedServerCall<TResult>(TypeInfo<TResult>(), $"client call {path}");
        byte[]? inputJson = input is null ? null : JsonSerializer.SerializeToUtf8Bytes(input, input.GetType(), _json);

        RpcConnection? connection = null;
        long correlation = 0;
        if (node == NodeId)
        {
            if (!_connections.TryGetValue(local, out connection))
                throw new RpcException(ErrorCode.NotFound, $"no connection '{connectionId}' on this node");
            connection.StartServerCall(call, path, inputJson);
            _metrics.ServerCallStarted();
        }
        else
        {
            correlation = Interlocked.Increment(ref _nextCorrelation);
            _outgoing[correlation] = call;
            var message = new ClusterMessageWriter(ClusterMessageType.Call, inputJson?.Length ?? 0)
                .Int64(correlation).String(NodeId).Int64(local).Int64((long)Math.Ceiling(timeout.TotalMilliseconds)).String(path)
                .Bytes(inputJson);
            bool sent;
            try { sent = await SendToNodeAsync(node, message.Written, "call to " + connectionId, cancellationToken).ConfigureAwait(false); }
            catch
            {
                _outgoing.TryRemove(correlation, out _);
                throw;
            }
            if (!sent)
            {
                _outgoing.TryRemove(correlation, out _);
                throw new RpcException(ErrorCode.NotFound, $"no connection '{connectionId}': its node is gone");
            }
            _metrics.ServerCallStarted();
        }

        using var deadline = new CancellationTokenSource(timeout);
        using var onDeadline = deadline.Token.UnsafeRegister(static s => ((Action)s!)(), (Action)(() =>
        {
            if (call.IsDone) return;
            _metrics.ServerCallTimedOut();
            Abandon(call, connection, node, correlation);
            call.OnFailed(ErrorCode.DeadlineExceeded, $"the client did not answer {path} within {timeout.TotalMilliseconds:0} ms");
        }));
        using var onCancel = cancellationToken.UnsafeRegister(static s => ((Action)s!)(), (Action)(() =>
        {
            if (call.IsDone) return;
            Abandon(call, connection, node, correlation);
            call.OnCancelled(cancellationToken);
        }));
        try
        {
            var result = await call.Task.ConfigureAwait(false);
            _metrics.ServerCallCompleted();
            return result;
        }
        catch (RpcException)
        {
            _metrics.ServerCallFailed();
            throw;
        }
    }

    /// <summary>The caller gives up: the client (or the node holding it) is told to cancel.</summary>
    private void Abandon(ServerCall call, RpcConnection? connection, string node, long correlation)
    {
        if (connection is not null)
        {
            connection.CancelServerCall(call);
            return;
        }
        if (_outgoing.TryRemove(correlation, out _))
        {
            var message = new ClusterMessageWriter(ClusterMessageType.CancelCall).Int64(correlation).String(NodeId);
            _ = SendQuietlyAsync(node, message.Written);
        }
    }

    private async Task SendQuietlyAsync(string node, ReadOnlyMemory<byte> message)
    {
        try { await _backplane.SendToNodeAsync(node, message, CancellationToken.None).ConfigureAwait(false); }
        catch (Exception ex) { PushLog.BackplaneFailed(_log, "send to node " + node, ex.Message); }
    }

    internal void SendReply(ForwardedServerCall call, bool isError, in ReadOnlySequence<byte> json)
    {
        _forwarded.TryRemove((call.OriginNode, call.Correlation), out _);
        call.Timeout?.Dispose();
        var message = new ClusterMessageWriter(ClusterMessageType.Reply, (int)json.Length).Int64(call.Correlation).Byte(isError ? (byte)1 : (byte)0);
        foreach (var segment in json) message.Bytes(segment.Span);
        _ = SendQuietlyAsync(call.OriginNode, message.Written);
    }

    private async ValueTask<bool> RemoteTopicRequestAsync(ClusterMessageType type, string node, long local, string topic, CancellationToken cancellationToken)
    {
        EnsureStarted();
        var call = new TypedServerCall<bool>((JsonTypeInfo<bool>)_json.GetTypeInfo(typeof(bool)), "a remote subscribe");
        long correlation = Interlocked.Increment(ref _nextCorrelation);
        _outgoing[correlation] = call;
        try
        {
            var message = new ClusterMessageWriter(type).Int64(correlation).String(NodeId).Int64(local).String(topic);
            if (!await SendToNodeAsync(node, message.Written, (type == ClusterMessageType.Subscribe ? "subscribe on " : "unsubscribe on ") + node, cancellationToken).ConfigureAwait(false))
                return false;
            return await call.Task.WaitAsync(RemoteRequestTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new RpcException(ErrorCode.Unavailable, $"node {node} did not answer within {RemoteRequestTimeout.TotalSeconds:0} s");
        }
        finally
        {
            _outgoing.TryRemove(correlation, out _);
        }
    }

    // ---- from other nodes --------------------------------------------------------------------------

    void IBackplaneReceiver.OnTopicMessage(string topic, ReadOnlyMemory<byte> message)
    {
        if (!_topics.ContainsKey(topic)) return;
        _metrics.BackplaneReceived();
        var frame = SharedFrame.Create(Opcode.Text, message.Span);
        try { DeliverToTopic(topic, frame); }
        finally { frame.Release(); }
    }

    void IBackplaneReceiver.OnBroadcast(ReadOnlyMemory<byte> message)
    {
        _metrics.BackplaneReceived();
        var frame = SharedFrame.Create(Opcode.Text, message.Span);
        try { DeliverToAll(frame); }
        finally { frame.Release(); }
    }

    void IBackplaneReceiver.OnNodeMessage(ReadOnlyMemory<byte> data)
    {
        _metrics.BackplaneReceived();
        if (!ClusterMessage.TryParse(data, out var m))
        {
            PushLog.BadClusterMessage(_log, data.Length);
            return;
        }
        switch (m.Type)
        {
            case ClusterMessageType.ConnectionEvent:
                if (_connections.TryGetValue(m.LocalId, out var target))
                {
                    var frame = SharedFrame.Create(Opcode.Text, m.Body.Span);
                    try { DeliverTo(target, frame); }
                    finally { frame.Release(); }
                }
                break;
            case ClusterMessageType.UserEvent:
                if (_users.ContainsKey(m.Text!))
                {
                    var frame = SharedFrame.Create(Opcode.Text, m.Body.Span);
                    try { DeliverToUser(m.Text!, frame); }
                    finally { frame.Release(); }
                }
                break;
            case ClusterMessageType.Call:
                StartForwardedCall(in m);
                break;
            case ClusterMessageType.Reply:
                if (_outgoing.TryRemove(m.Correlation, out var pending))
                {
                    var body = new ReadOnlySequence<byte>(m.Body);
                    if (m.IsError) pending.OnError(body); else pending.OnResult(body);
                }
                break;
            case ClusterMessageType.CancelCall:
                if (_forwarded.TryRemove((m.Node!, m.Correlation), out var forwarded) && forwarded.Abandon())
                {
                    forwarded.Timeout?.Dispose();
                    forwarded.Connection?.CancelServerCall(forwarded);
                }
                break;
            case ClusterMessageType.Subscribe:
            case ClusterMessageType.Unsubscribe:
                _ = HandleRemoteTopicRequestAsync(m.Type, m.Node!, m.Correlation, m.LocalId, m.Text!);
                break;
        }
    }

    private void StartForwardedCall(in ClusterMessage m)
    {
        var call = new ForwardedServerCall(this, m.Node!, m.Correlation);
        if (!_connections.TryGetValue(m.LocalId, out var connection))
        {
            call.OnFailed(ErrorCode.NotFound, $"no connection '{NodeId}.{m.LocalId}'");
            return;
        }
        call.Connection = connection;
        _forwarded[(call.OriginNode, call.Correlation)] = call;
        try
        {
            connection.StartServerCall(call, m.Text!, m.Body.IsEmpty ? null : m.Body.ToArray());
        }
        catch (RpcException ex)
        {
            call.OnFailed(ex.Code, ex.Message);
            return;
        }
        // This node enforces the deadline too, so a caller that died never leaves the call pending here.
        var timeout = new CancellationTokenSource(m.TimeoutMs);
        call.Timeout = timeout;
        timeout.Token.UnsafeRegister(static s =>
        {
            var c = (ForwardedServerCall)s!;
            if (c.Connection!.CancelServerCall(c)) c.OnFailed(ErrorCode.DeadlineExceeded, "the client did not answer in time");
        }, call);
    }

    private async Task HandleRemoteTopicRequestAsync(ClusterMessageType type, string origin, long correlation, long local, string topic)
    {
        var reply = new ForwardedServerCall(this, origin, correlation);
        try
        {
            bool done = false;
            if (_connections.TryGetValue(local, out var connection))
            {
                done = type == ClusterMessageType.Subscribe
                    ? await SubscribeLocalAsync(connection, topic, CancellationToken.None).ConfigureAwait(false)
                    : await UnsubscribeLocalAsync(connection, topic, CancellationToken.None).ConfigureAwait(false);
            }
            reply.OnResult(new ReadOnlySequence<byte>(done ? "true"u8.ToArray() : "false"u8.ToArray()));
        }
        catch (RpcException ex)
        {
            if (reply.Abandon()) SendReply(reply, isError: true, new ReadOnlySequence<byte>(ErrorObjects.ToBytes(ex, _json)));
        }
        catch (Exception ex)
        {
            PushLog.BackplaneFailed(_log, "remote topic request", ex.Message);
            reply.OnFailed(ErrorCode.Internal, "internal error");
        }
    }

    // ---- helpers -----------------------------------------------------------------------------------

    private JsonTypeInfo<T> TypeInfo<T>() => (JsonTypeInfo<T>)_json.GetTypeInfo(typeof(T));

    private async ValueTask<bool> SendToNodeAsync(string node, ReadOnlyMemory<byte> message, string what, CancellationToken cancellationToken)
    {
        try
        {
            bool sent = await _backplane.SendToNodeAsync(node, message, cancellationToken).ConfigureAwait(false);
            _metrics.BackplaneSent();
            return sent;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw Unavailable(what, ex);
        }
    }

    private async ValueTask AwaitBackplane(ValueTask pending, string what)
    {
        try
        {
            await pending.ConfigureAwait(false);
            _metrics.BackplaneSent();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw Unavailable(what, ex);
        }
    }

    private RpcException Unavailable(string what, Exception ex)
    {
        _metrics.BackplaneError();
        PushLog.BackplaneFailed(_log, what, ex.Message);
        return new RpcException(ErrorCode.Unavailable, $"the {_backplane.Name} backplane is unavailable: this node's connections have the message, other nodes' may not");
    }
}
