using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.WebSockets;
using Gateway.Server.Codec;

namespace Gateway.Server.Push;

/// <summary>
/// Events to a topic, a connection, a user or everyone. Each is serialized once; local delivery never waits for the
/// backplane (this node's members get the event first), then the other nodes get the same bytes.
/// </summary>
internal sealed class EventSender(LocalDirectory directory, FanOut fanOut, ClusterLink link, JsonSerializerOptions json)
{
    // Events cross the cluster as serialized frames, so they have one canonical format: JSON.
    private static readonly IWireCodec Codec = JsonWireCodec.Instance;

    private JsonTypeInfo<T> TypeInfo<T>() => (JsonTypeInfo<T>)json.GetTypeInfo(typeof(T));

    public ValueTask PublishAsync<T>(string topic, string eventName, T data, CancellationToken cancellationToken) =>
        GatewayTracing.Source.HasListeners()
            ? TracedPublishAsync(topic, eventName, data, cancellationToken)
            : PublishCoreAsync(topic, eventName, data, cancellationToken);

    // Only when something listens: the span covers the local fan-out and the hand-off to the backplane.
    private async ValueTask TracedPublishAsync<T>(string topic, string eventName, T data, CancellationToken cancellationToken)
    {
        using var activity = GatewayTracing.StartPublish(topic, eventName);
        try
        {
            await PublishCoreAsync(topic, eventName, data, cancellationToken).ConfigureAwait(false);
            if (activity is not null) GatewayTracing.SetOutcome(activity, null);
        }
        catch (Exception ex)
        {
            if (activity is not null) GatewayTracing.SetOutcome(activity, ex);
            throw;
        }
    }

    private ValueTask PublishCoreAsync<T>(string topic, string eventName, T data, CancellationToken cancellationToken)
    {
        TopicNames.ValidateTopic(topic);
        TopicNames.ValidateEvent(eventName);
        link.EnsureStarted();
        var frame = Codec.BuildEvent(eventName, topic, data, TypeInfo<T>());
        return LocalThenCluster(frame, topic, cancellationToken);
    }

    public async ValueTask<bool> SendToConnectionAsync<T>(string connectionId, string eventName, T data, CancellationToken cancellationToken)
    {
        TopicNames.ValidateEvent(eventName);
        link.EnsureStarted();
        if (!NodeIds.TryParseConnectionId(connectionId, out var node, out long local)) return false;
        if (node == link.NodeId)
        {
            if (!directory.TryGet(local, out var state)) return false;
            var frame = Codec.BuildEvent(eventName, null, data, TypeInfo<T>());
            try { return fanOut.ToConnection(state, frame); }
            finally { frame.Release(); }
        }
        var message = new ClusterMessageWriter(ClusterMessageType.ConnectionEvent).Int64(local);
        EventFrames.Write(message.Writer, eventName, null, data, TypeInfo<T>());
        return await link.SendToNodeAsync(node, message.Written, "event to " + connectionId, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> SendToUserAsync<T>(string userId, string eventName, T data, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        TopicNames.ValidateEvent(eventName);
        link.EnsureStarted();
        // The frame is held until the other nodes have their copy: its payload is the message body, copied once per node.
        var frame = Codec.BuildEvent(eventName, null, data, TypeInfo<T>());
        try
        {
            bool found = fanOut.ToUser(userId, frame) > 0 || directory.Users.MemberCount(userId) > 0;
            IReadOnlyList<string> nodes;
            try { nodes = await link.Backplane.GetUserNodesAsync(userId, cancellationToken).ConfigureAwait(false); }
            catch (Exception ex) when (ex is not OperationCanceledException) { throw link.Unavailable("find the nodes of user " + userId, ex); }
            foreach (var node in nodes)
            {
                if (node == link.NodeId) continue;
                var message = new ClusterMessageWriter(ClusterMessageType.UserEvent, frame.Payload.Length).String(userId).Bytes(frame.Payload.Span);
                if (await link.SendToNodeAsync(node, message.Written, "event to user " + userId, cancellationToken).ConfigureAwait(false))
                {
                    found = true;
                }
                else
                {
                    // Nobody listens on that node's channel: it died without leaving. Clean its registration up.
                    try { await link.Backplane.ForgetUserNodeAsync(userId, node, cancellationToken).ConfigureAwait(false); }
                    catch (Exception ex) when (ex is not OperationCanceledException) { PushLog.BackplaneFailed(link.Log, "forget node " + node, ex.Message); }
                }
            }
            return found;
        }
        finally
        {
            frame.Release();
        }
    }

    public ValueTask BroadcastAsync<T>(string eventName, T data, CancellationToken cancellationToken)
    {
        TopicNames.ValidateEvent(eventName);
        link.EnsureStarted();
        var frame = Codec.BuildEvent(eventName, null, data, TypeInfo<T>());
        return LocalThenCluster(frame, topic: null, cancellationToken);
    }

    /// <summary>
    /// A publish (to <paramref name="topic"/>) or a broadcast (no topic): this node's members first, then the backplane.
    /// The backplane copies what it keeps before it returns, so the frame goes back to the pool right after.
    /// </summary>
    private ValueTask LocalThenCluster(SharedFrame frame, string? topic, CancellationToken cancellationToken)
    {
        ValueTask remote;
        try
        {
            if (topic is null)
            {
                fanOut.ToAll(frame);
                remote = link.Backplane.BroadcastAsync(frame.Payload, cancellationToken);
            }
            else
            {
                link.Metrics.EventPublished();
                fanOut.ToTopic(topic, frame);
                remote = link.Backplane.PublishAsync(topic, frame.Payload, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            frame.Release();
            throw link.Unavailable(topic is null ? "broadcast" : "publish to " + topic, ex);
        }
        frame.Release();
        return remote.IsCompletedSuccessfully ? default : link.AwaitAsync(remote, topic is null ? "broadcast" : "publish to " + topic);
    }
}
