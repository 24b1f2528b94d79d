using System.Text.Json;
using Gateway.Backplane;
using Gateway.Server.Codec;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.Push;

/// <summary>
/// Server push for one node: the facade over its parts. The <see cref="LocalDirectory"/> holds the local connections
/// (one <see cref="PushState"/> each) and their topics and users, reconciled with the backplane; <see cref="FanOut"/>
/// delivers a serialized frame locally; <see cref="EventSender"/> sends events to topics, connections, users and
/// everyone; <see cref="ServerCallRouter"/> makes calls to clients, here or on another node; <see cref="ClusterInbox"/>
/// handles what other nodes send. Local delivery never waits for the backplane.
/// </summary>
public sealed class PushHub : ITopics, IConnections, IBackplaneReceiver, IPushEndpoint, IAsyncDisposable
{
    private readonly ClusterLink _link;
    private readonly LocalDirectory _directory;
    private readonly EventSender _events;
    private readonly ServerCallRouter _calls;
    private readonly ClusterInbox _inbox;

    public PushHub(IBackplane backplane, JsonSerializerOptions json, GatewayMetrics metrics, ILogger logger,
        int maxSubscriptionsPerConnection = 100, int maxServerCallsPerConnection = 64, string? nodeId = null)
    {
        _link = new ClusterLink(backplane, nodeId ?? NodeIds.New(), metrics, logger);
        _directory = new LocalDirectory(_link, maxSubscriptionsPerConnection, maxServerCallsPerConnection);
        var fanOut = new FanOut(_directory, metrics);
        _events = new EventSender(_directory, fanOut, _link, json);
        _calls = new ServerCallRouter(_directory, _link, json);
        _inbox = new ClusterInbox(_directory, fanOut, _calls, _link);
        metrics.ObserveTopics(() => _directory.Topics.Count, () => backplane.IsConnected);
    }

    /// <summary>This node's id: random per process start, so a restarted node never receives messages meant for its predecessor's connections.</summary>
    public string NodeId => _link.NodeId;
    public IBackplane Backplane => _link.Backplane;
    /// <summary>Topics with at least one subscriber on this node.</summary>
    public int TopicCount => _directory.Topics.Count;
    /// <summary>Subscribers of a topic on this node.</summary>
    public int SubscriberCount(string topic) => _directory.Topics.MemberCount(topic);
    /// <summary>Connections of a user on this node.</summary>
    public int UserConnectionCount(string userId) => _directory.Users.MemberCount(userId);
    public int ConnectionCount => _directory.ConnectionCount;

    // ---- lifecycle ---------------------------------------------------------------------------------

    public Task StartAsync(CancellationToken cancellationToken = default) => _link.StartAsync(this, cancellationToken);

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!_link.BeginStop()) return;
        _calls.FailOutgoing();
        await _link.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _link.Backplane.DisposeAsync().ConfigureAwait(false);
    }

    // ---- the RPC layer's connections ---------------------------------------------------------------

    PushState IPushEndpoint.Connect(WebSocketSession session, IWireCodec codec) => _directory.Register(session, codec);
    void IPushEndpoint.Disconnect(PushState state) => _directory.Unregister(state);
    ValueTask IPushEndpoint.SetUserAsync(PushState state, string? userId, CancellationToken cancellationToken) =>
        _directory.SetUserAsync(state, userId, cancellationToken);
    ITopics IPushEndpoint.Topics => this;
    IConnections IPushEndpoint.Connections => this;

    // ---- ITopics -----------------------------------------------------------------------------------

    /// <inheritdoc />
    public ValueTask<bool> SubscribeAsync(string connectionId, string topic, CancellationToken cancellationToken = default) =>
        ChangeTopicAsync(ClusterMessageType.Subscribe, connectionId, topic, cancellationToken);

    /// <inheritdoc />
    public ValueTask<bool> UnsubscribeAsync(string connectionId, string topic, CancellationToken cancellationToken = default) =>
        ChangeTopicAsync(ClusterMessageType.Unsubscribe, connectionId, topic, cancellationToken);

    private async ValueTask<bool> ChangeTopicAsync(ClusterMessageType type, string connectionId, string topic, CancellationToken cancellationToken)
    {
        TopicNames.ValidateTopic(topic);
        if (!NodeIds.TryParseConnectionId(connectionId, out var node, out long local)) return false;
        if (node != NodeId) return await _calls.RemoteTopicRequestAsync(type, node, local, topic, cancellationToken).ConfigureAwait(false);
        if (!_directory.TryGet(local, out var state)) return false;
        return type == ClusterMessageType.Subscribe
            ? await _directory.SubscribeAsync(state, topic, cancellationToken).ConfigureAwait(false)
            : await _directory.UnsubscribeAsync(state, topic, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask PublishAsync<T>(string topic, string eventName, T data, CancellationToken cancellationToken = default) =>
        _events.PublishAsync(topic, eventName, data, cancellationToken);

    // ---- IConnections ------------------------------------------------------------------------------

    /// <inheritdoc />
    public ValueTask<bool> SendEventAsync<T>(string connectionId, string eventName, T data, CancellationToken cancellationToken = default) =>
        _events.SendToConnectionAsync(connectionId, eventName, data, cancellationToken);

    /// <inheritdoc />
    public ValueTask<bool> SendEventToUserAsync<T>(string userId, string eventName, T data, CancellationToken cancellationToken = default) =>
        _events.SendToUserAsync(userId, eventName, data, cancellationToken);

    /// <inheritdoc />
    public ValueTask BroadcastAsync<T>(string eventName, T data, CancellationToken cancellationToken = default) =>
        _events.BroadcastAsync(eventName, data, cancellationToken);

    /// <inheritdoc />
    public Task<TResult> CallAsync<TResult>(string connectionId, string path, object? input, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        _calls.CallAsync<TResult>(connectionId, path, input, timeout, cancellationToken);

    // ---- IBackplaneReceiver: from other nodes ------------------------------------------------------

    void IBackplaneReceiver.OnTopicMessage(string topic, ReadOnlyMemory<byte> message) => _inbox.OnTopicMessage(topic, message);
    void IBackplaneReceiver.OnBroadcast(ReadOnlyMemory<byte> message) => _inbox.OnBroadcast(message);
    void IBackplaneReceiver.OnNodeMessage(ReadOnlyMemory<byte> data) => _inbox.OnNodeMessage(data);
}
