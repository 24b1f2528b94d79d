using System.Net;

namespace Gateway;

/// <summary>
/// What a handler knows about the call it serves. Take it as a parameter of the handler method.
/// It is valid until the handler returns (or, for a subscription, until its stream ends): do not keep it.
/// </summary>
public abstract class RpcContext
{
    /// <summary>The connection's id, unique within this gateway process.</summary>
    public abstract long ConnectionId { get; }

    /// <summary>The client's address as the gateway sees it.</summary>
    public abstract IPEndPoint? RemoteEndPoint { get; }

    /// <summary>The headers of the HTTP request that opened the WebSocket (case-insensitive names).</summary>
    public abstract IReadOnlyDictionary<string, string> RequestHeaders { get; }

    /// <summary>State kept for the connection's lifetime, shared by all its calls.</summary>
    public abstract IDictionary<string, object?> Items { get; }

    /// <summary>The procedure name being called, e.g. <c>echo/echo</c>.</summary>
    public abstract string Path { get; }

    /// <summary>The user the connection acts for, or null. Set by authentication; handlers may set it too.</summary>
    public abstract string? UserId { get; set; }

    /// <summary>Fires when the caller cancels this call or the connection closes.</summary>
    public abstract CancellationToken CancellationToken { get; }

    /// <summary>
    /// Sends <c>{"id":…,"progress":value}</c> to the caller before the terminal reply. Not available for
    /// notifications (there is no id to report to); a no-op there. Progress may be dropped for a slow consumer.
    /// </summary>
    public abstract ValueTask ReportProgressAsync<T>(T value);
}
