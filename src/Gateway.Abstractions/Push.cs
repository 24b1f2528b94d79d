namespace Gateway;

/// <summary>
/// Topic publish/subscribe across every gateway node. A connection subscribed to a topic receives
/// <c>{"event":name,"topic":topic,"data":…}</c> for every publish to it, from any node. Reach it from a handler
/// (<see cref="RpcContext.Topics"/>) or by constructor injection (background services of a plugin).
/// </summary>
/// <remarks>
/// Topic names are 1 to 256 characters without control characters or whitespace, e.g. <c>room:42</c>.
/// Events of one topic from one publisher arrive in order. An event for a client over
/// <c>Gateway:Limits:SendBufferLimitBytes</c> follows <c>Gateway:Limits:SlowConsumerPolicy</c> (dropped and counted,
/// or the connection closed): a slow subscriber never slows the others.
/// </remarks>
public interface ITopics
{
    /// <summary>
    /// Subscribes a connection (on this node or another) to a topic; completes when events from every node reach it.
    /// While the backplane's broker is unreachable it completes once the subscription is recorded: events published on
    /// this node reach it at once, and events from other nodes once the backplane has resubscribed (logged, counted).
    /// </summary>
    /// <param name="connectionId">The connection, as <see cref="RpcContext.ConnectionId"/> gave it.</param>
    /// <param name="topic">The topic.</param>
    /// <param name="cancellationToken">Stops waiting (the subscription may still happen).</param>
    /// <returns>False when no such connection is open.</returns>
    /// <exception cref="RpcException">INVALID_ARGUMENT for a malformed topic; RESOURCE_EXHAUSTED past the per-connection limit;
    /// UNAVAILABLE when the connection is on another node and the backplane cannot reach it.</exception>
    ValueTask<bool> SubscribeAsync(string connectionId, string topic, CancellationToken cancellationToken = default);

    /// <summary>Unsubscribes a connection from a topic.</summary>
    /// <returns>False when the connection was not subscribed (or is not open).</returns>
    ValueTask<bool> UnsubscribeAsync(string connectionId, string topic, CancellationToken cancellationToken = default);

    /// <summary>
    /// Publishes an event to every subscriber of <paramref name="topic"/> on every node. The event is serialized once;
    /// this node's subscribers have it queued when the call returns; other nodes get it through the backplane.
    /// </summary>
    /// <param name="topic">The topic.</param>
    /// <param name="eventName">The event's name (<c>event</c> on the wire), 1 to 128 characters.</param>
    /// <param name="data">Any JSON-serializable value (<c>data</c> on the wire).</param>
    /// <param name="cancellationToken">Stops waiting for the backplane.</param>
    /// <exception cref="RpcException">UNAVAILABLE when the backplane could not take the event (this node's subscribers have it;
    /// other nodes' may not): never reported as success. INVALID_ARGUMENT for a malformed topic or event name.</exception>
    ValueTask PublishAsync<T>(string topic, string eventName, T data, CancellationToken cancellationToken = default);
}

/// <summary>
/// Server push to connections and users on any node, and calls from the server that a client answers.
/// Reach it from a handler (<see cref="RpcContext.Connections"/>) or by constructor injection.
/// </summary>
public interface IConnections
{
    /// <summary>The id of this gateway node (the part of every local connection id before the dot).</summary>
    string NodeId { get; }

    /// <summary>Sends <c>{"event":name,"data":…}</c> to one connection, on this node or another.</summary>
    /// <returns>True when the event was queued for the connection, or handed to the node holding it; false when no such
    /// connection is open here, its node is gone, or the slow-consumer policy dropped the event.</returns>
    /// <exception cref="RpcException">UNAVAILABLE when the connection is on another node and the backplane is unavailable.</exception>
    ValueTask<bool> SendEventAsync<T>(string connectionId, string eventName, T data, CancellationToken cancellationToken = default);

    /// <summary>Sends <c>{"event":name,"data":…}</c> to every connection of a user (see <see cref="RpcContext.UserId"/>), on every node.</summary>
    /// <returns>True when at least one connection of the user was found, on this node or on another.</returns>
    /// <exception cref="RpcException">UNAVAILABLE when the backplane is unavailable (this node's connections of the user have the event).</exception>
    ValueTask<bool> SendEventToUserAsync<T>(string userId, string eventName, T data, CancellationToken cancellationToken = default);

    /// <summary>Sends <c>{"event":name,"data":…}</c> to every connection of every node.</summary>
    /// <exception cref="RpcException">UNAVAILABLE when the backplane is unavailable (this node's connections have the event).</exception>
    ValueTask BroadcastAsync<T>(string eventName, T data, CancellationToken cancellationToken = default);

    /// <summary>
    /// Calls a client: sends it <c>{"id":n,"path":path,"input":input}</c> and completes with its answer, the
    /// client's <c>result</c> read as <typeparamref name="TResult"/>. The connection may be on any node.
    /// </summary>
    /// <param name="connectionId">The connection to call.</param>
    /// <param name="path">The client-side procedure, e.g. <c>client/echo</c>.</param>
    /// <param name="input">Any JSON-serializable value, or null for no input.</param>
    /// <param name="timeout">How long the client has to answer (1 ms to 1 hour). Past it the client is sent a cancel.</param>
    /// <param name="cancellationToken">Cancels the call: the client is sent <c>{"id":n,"cancel":true}</c>.</param>
    /// <exception cref="RpcException">The client's own <c>error</c> (its code, message and details); NOT_FOUND when no such connection
    /// is open; DEADLINE_EXCEEDED after <paramref name="timeout"/>; UNAVAILABLE when the connection closes before answering or its node
    /// cannot be reached; RESOURCE_EXHAUSTED past <c>Gateway:Limits:MaxServerCallsPerConnection</c> pending calls;
    /// INVALID_ARGUMENT when the result cannot be read as <typeparamref name="TResult"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    Task<TResult> CallAsync<TResult>(string connectionId, string path, object? input, TimeSpan timeout, CancellationToken cancellationToken = default);
}

/// <summary>A plugin's answer about a client's <c>$subscribe</c>.</summary>
public enum TopicAccess
{
    /// <summary>No opinion: the next policy decides, and after the last one the <c>Gateway:Topics:ClientSubscribe</c> patterns.</summary>
    Default,
    /// <summary>The client may subscribe, whatever the patterns say.</summary>
    Allow,
    /// <summary>The client gets PERMISSION_DENIED, whatever the patterns say.</summary>
    Deny,
}

/// <summary>
/// Decides which topics clients may join with <c>$subscribe</c>. Register implementations in
/// <see cref="IGatewayPlugin.ConfigureServices"/> (<c>services.AddSingleton&lt;ITopicPolicy, MyPolicy&gt;()</c>);
/// they are asked in registration order and the first answer other than <see cref="TopicAccess.Default"/> wins.
/// Subscriptions made by the server (<see cref="ITopics.SubscribeAsync"/>) are not checked.
/// </summary>
public interface ITopicPolicy
{
    /// <summary>Whether the connection behind <paramref name="context"/> may subscribe to <paramref name="topic"/>.</summary>
    /// <param name="context">The <c>$subscribe</c> call: its connection id, user id, headers and items.</param>
    /// <param name="topic">The topic asked for (already checked to be well-formed).</param>
    ValueTask<TopicAccess> CanSubscribeAsync(RpcContext context, string topic);
}
