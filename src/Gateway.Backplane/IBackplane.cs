namespace Gateway.Backplane;

/// <summary>
/// What several gateway nodes share, and nothing more (in the spirit of Centrifuge's broker.go): topic channels that a
/// node listens to only while it has local subscribers, one channel per node for directed messages (events to a
/// connection or user, server-to-client calls and their replies), a broadcast channel, and a registry of which nodes
/// hold which users. Messages are opaque bytes to the backplane; the gateway encodes them.
/// </summary>
/// <remarks>
/// Contract, for every implementation:
/// <list type="bullet">
/// <item>A node never receives its own topic publishes or broadcasts (it has delivered them locally already).</item>
/// <item>Messages from one node on one channel arrive at another node in the order they were sent, and the receiver's
/// callbacks for one channel are never called concurrently.</item>
/// <item>Delivery is at most once: what is published while a node is cut off from the broker is not replayed to it.</item>
/// <item>A method that cannot hand its message to the broker within its timeout throws (never a silent loss reported as success);
/// the memory passed in is only read during the call (implementations copy what they keep).</item>
/// <item>Subscriptions and user registrations are desired state: after the broker comes back (even empty, after a restart)
/// the implementation restores them by itself.</item>
/// </list>
/// </remarks>
public interface IBackplane : IAsyncDisposable
{
    /// <summary>For logs and metrics, e.g. "InMemory", "Redis".</summary>
    string Name { get; }

    /// <summary>Whether the broker is reachable now (an in-memory backplane always is).</summary>
    bool IsConnected { get; }

    /// <summary>Joins the cluster as <paramref name="nodeId"/>; incoming messages go to <paramref name="receiver"/>.</summary>
    Task StartAsync(string nodeId, IBackplaneReceiver receiver, CancellationToken cancellationToken);

    /// <summary>Leaves the cluster: stops listening, removes this node's presence and user registrations.</summary>
    Task StopAsync(CancellationToken cancellationToken);

    /// <summary>Starts receiving <paramref name="topic"/>'s messages from other nodes; completes when they are being received.</summary>
    ValueTask SubscribeAsync(string topic, CancellationToken cancellationToken);

    ValueTask UnsubscribeAsync(string topic, CancellationToken cancellationToken);

    /// <summary>Sends a topic message to every other node subscribed to <paramref name="topic"/>.</summary>
    ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> message, CancellationToken cancellationToken);

    /// <summary>Sends a message to every other node.</summary>
    ValueTask BroadcastAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken);

    /// <summary>Sends a message to one node's own channel.</summary>
    /// <returns>False when no node by that id is listening (it is gone).</returns>
    ValueTask<bool> SendToNodeAsync(string nodeId, ReadOnlyMemory<byte> message, CancellationToken cancellationToken);

    /// <summary>Records that this node holds connections of <paramref name="userId"/>.</summary>
    ValueTask AddUserAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Records that this node no longer holds connections of <paramref name="userId"/>.</summary>
    ValueTask RemoveUserAsync(string userId, CancellationToken cancellationToken);

    /// <summary>The live nodes, this one included, that hold connections of <paramref name="userId"/>.</summary>
    ValueTask<IReadOnlyList<string>> GetUserNodesAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Removes a node that did not answer from a user's registration (it died without leaving).</summary>
    ValueTask ForgetUserNodeAsync(string userId, string nodeId, CancellationToken cancellationToken);
}
