using System.Net;
using System.Security.Claims;

namespace Gateway;

/// <summary>Why a connection ended, as <see cref="IConnectionHandler.OnDisconnectedAsync"/> is told.</summary>
public enum DisconnectKind
{
    /// <summary>The client started the closing handshake; <see cref="DisconnectReason.CloseCode"/> is its status code (null: none).</summary>
    ClientClosed,
    /// <summary>TCP ended or failed without a closing handshake: the client vanished, the network dropped, the socket was reset or aborted.</summary>
    ConnectionLost,
    /// <summary>The client broke the WebSocket protocol (1002, 1003, 1007, 1009 for a message over the size limit…).</summary>
    ProtocolError,
    /// <summary>The heartbeat closed it (1001): nothing received for <c>Timeouts:ClientTimeout</c>, or no message for <c>Timeouts:Idle</c>.</summary>
    Timeout,
    /// <summary>The server is stopping (1001, after the drain).</summary>
    ServerShutdown,
    /// <summary>
    /// The server closed it for breaking a rule: 1008 (invalid messages, rate-limit abuse, slow consumer), 1009 (incomplete
    /// messages over the memory cap), or a 44xx authentication close (e.g. 4401 token expired).
    /// </summary>
    PolicyClose,
    /// <summary>The server closed it with another status code (<see cref="DisconnectReason.CloseCode"/>).</summary>
    ServerClosed,
    /// <summary>An internal fault of the server (1011).</summary>
    ServerError,
}

/// <summary>How a connection ended.</summary>
/// <param name="Kind">The cause.</param>
/// <param name="CloseCode">The WebSocket status code of the close (the client's for <see cref="DisconnectKind.ClientClosed"/>, the
/// server's for the server's closes), or null when none was exchanged.</param>
/// <param name="Description">A short human-readable account for logs, e.g. <c>closed by client (1000)</c> or <c>client timeout</c>.</param>
public sealed record DisconnectReason(DisconnectKind Kind, int? CloseCode, string Description);

/// <summary>One WebSocket connection as a connection hook sees it. Valid for the connection's lifetime.</summary>
public abstract class ConnectionContext
{
    /// <summary>The connection's cluster-wide id (as <see cref="RpcContext.ConnectionId"/>).</summary>
    public abstract string ConnectionId { get; }

    /// <summary>The client's address as the gateway sees it.</summary>
    public abstract IPEndPoint? RemoteEndPoint { get; }

    /// <summary>The headers of the HTTP request that opened the WebSocket (case-insensitive names).</summary>
    public abstract IReadOnlyDictionary<string, string> RequestHeaders { get; }

    /// <summary>Who the connection authenticated as; an unauthenticated principal when it did not (never null).</summary>
    public abstract ClaimsPrincipal User { get; }

    /// <summary>The user the connection acts for, or null (see <see cref="RpcContext.UserId"/>).</summary>
    public abstract string? UserId { get; }

    /// <summary>State kept for the connection's lifetime, the same dictionary its calls see as <see cref="RpcContext.Items"/>.</summary>
    public abstract IDictionary<string, object?> Items { get; }

    /// <summary>Fires when the connection ends, however it ends.</summary>
    public abstract CancellationToken ConnectionClosed { get; }

    /// <summary>Topic publish/subscribe across every node (e.g. to announce presence).</summary>
    public abstract ITopics Topics { get; }

    /// <summary>Events to connections and users across every node.</summary>
    public abstract IConnections Connections { get; }
}

/// <summary>
/// Connection hooks: presence, audit, per-connection state. Register implementations in
/// <see cref="IGatewayPlugin.ConfigureServices"/> (<c>services.AddSingleton&lt;IConnectionHandler, MyHandler&gt;()</c>);
/// every registered handler is called, in registration order.
/// </summary>
/// <remarks>
/// <see cref="OnConnectedAsync"/> runs once the WebSocket is open and authenticated, before its first message is read
/// (the client's messages wait for it: keep it short). <see cref="OnDisconnectedAsync"/> runs once, after the connection
/// has ended (its handlers' tokens have fired), on the thread pool: it never delays closing the socket; a graceful stop
/// waits for it (bounded by the host's shutdown timeout) before the node leaves the cluster. An exception from a hook is
/// logged with the connection id and counted (<c>gateway_connection_hook_errors_total</c>); the connection and the other
/// handlers carry on.
/// </remarks>
public interface IConnectionHandler
{
    /// <summary>A connection opened.</summary>
    ValueTask OnConnectedAsync(ConnectionContext connection);

    /// <summary>A connection ended, for <paramref name="reason"/>.</summary>
    ValueTask OnDisconnectedAsync(ConnectionContext connection, DisconnectReason reason);
}
