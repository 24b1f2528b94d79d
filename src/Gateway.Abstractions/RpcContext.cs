using System.Net;
using System.Security.Claims;

namespace Gateway;

/// <summary>
/// What a handler knows about the call it serves. Take it as a parameter of the handler method.
/// It is valid until the handler returns (or, for a subscription, until its stream ends): do not keep it.
/// Keep <see cref="ConnectionId"/> instead, and reach the connection later through <see cref="IConnections"/>.
/// </summary>
public abstract class RpcContext
{
    /// <summary>
    /// The connection's id, unique across every gateway node sharing a backplane (for example <c>"k3f9q2.17"</c>:
    /// the node's id, a dot, and the number the node's log lines show as <c>[17]</c>). Pass it to
    /// <see cref="IConnections"/> or <see cref="ITopics"/> from any node to reach this connection.
    /// </summary>
    public abstract string ConnectionId { get; }

    /// <summary>The client's address as the gateway sees it.</summary>
    public abstract IPEndPoint? RemoteEndPoint { get; }

    /// <summary>The headers of the HTTP request that opened the WebSocket (case-insensitive names).</summary>
    public abstract IReadOnlyDictionary<string, string> RequestHeaders { get; }

    /// <summary>State kept for the connection's lifetime, shared by all its calls.</summary>
    public abstract IDictionary<string, object?> Items { get; }

    /// <summary>The procedure name being called, e.g. <c>echo/echo</c>.</summary>
    public abstract string Path { get; }

    /// <summary>
    /// Who the connection authenticated as at the handshake (or last refreshed with <c>$auth</c>). A connection with no
    /// credentials gets an unauthenticated principal (<c>User.Identity.IsAuthenticated</c> is false), never null.
    /// </summary>
    public abstract ClaimsPrincipal User { get; }

    /// <summary>
    /// The user the connection acts for, or null. Set by authentication; handlers may set it too. Every connection
    /// of one user is reachable together with <see cref="IConnections.SendEventToUserAsync{T}"/>. Setting it here
    /// registers the user with the backplane in the background; await <see cref="SetUserIdAsync"/> instead when the
    /// next step needs other nodes to know already.
    /// </summary>
    public abstract string? UserId { get; set; }

    /// <summary>
    /// Sets <see cref="UserId"/> and completes once every node can reach this connection by that user id (the backplane
    /// has registered it). Null clears it. While the backplane's broker is unreachable it completes once the change is
    /// recorded: this node uses it at once, and the backplane registers it when the broker is back (logged, counted).
    /// </summary>
    public abstract ValueTask SetUserIdAsync(string? userId);

    /// <summary>Fires when the caller cancels this call or the connection closes.</summary>
    public abstract CancellationToken CancellationToken { get; }

    /// <summary>
    /// Sends <c>{"id":…,"progress":value}</c> to the caller before the terminal reply. Not available for
    /// notifications (there is no id to report to); a no-op there. Progress may be dropped for a slow consumer.
    /// </summary>
    public abstract ValueTask ReportProgressAsync<T>(T value);

    /// <summary>Topic publish/subscribe, across every node (the same service DI hands to background services).</summary>
    public abstract ITopics Topics { get; }

    /// <summary>Events to connections and users, broadcasts, and calls to clients, across every node.</summary>
    public abstract IConnections Connections { get; }

    /// <summary>
    /// Subscribes this connection to <paramref name="topic"/> (no pattern check: the server decides). Completes when the
    /// subscription is in effect on every node; see <see cref="ITopics.SubscribeAsync"/> for a broker that is unreachable.
    /// </summary>
    /// <returns>False when the connection has closed meanwhile.</returns>
    /// <exception cref="RpcException">RESOURCE_EXHAUSTED past <c>Gateway:Topics:MaxSubscriptionsPerConnection</c>; INVALID_ARGUMENT for a malformed topic name.</exception>
    public ValueTask<bool> SubscribeAsync(string topic) => Topics.SubscribeAsync(ConnectionId, topic, CancellationToken);

    /// <summary>Unsubscribes this connection from <paramref name="topic"/>.</summary>
    /// <returns>False when the connection was not subscribed.</returns>
    public ValueTask<bool> UnsubscribeAsync(string topic) => Topics.UnsubscribeAsync(ConnectionId, topic, CancellationToken);

    /// <summary>
    /// Calls the calling client at <paramref name="path"/> (a request the client answers with <c>result</c> or
    /// <c>error</c>), cancelled with this call. See <see cref="IConnections.CallAsync{TResult}"/>.
    /// </summary>
    public Task<TResult> CallClientAsync<TResult>(string path, object? input, TimeSpan timeout) =>
        Connections.CallAsync<TResult>(ConnectionId, path, input, timeout, CancellationToken);
}
