using System.Net;
using System.Security.Claims;

namespace Gateway.Server.Rpc;

/// <summary>
/// The <see cref="ConnectionContext"/> connection hooks see: a view of the RPC connection. Once the connection has ended
/// it keeps the user id the connection last had (push forgets it as the connection leaves), for presence and audit.
/// </summary>
internal sealed class HookConnectionContext(RpcConnection connection) : ConnectionContext
{
    private string? _userIdAtEnd;
    private volatile bool _ended;

    /// <summary>Called as the connection ends, before push forgets its user.</summary>
    public void Ended()
    {
        _userIdAtEnd = connection.UserId;
        _ended = true;
    }

    public override string ConnectionId => connection.ConnectionId;
    public override IPEndPoint? RemoteEndPoint => connection.Session.RemoteEndPoint;
    public override IReadOnlyDictionary<string, string> RequestHeaders => connection.Session.Request.ToDictionary();
    public override ClaimsPrincipal User => connection.User;
    public override string? UserId => _ended ? _userIdAtEnd : connection.UserId;
    public override IDictionary<string, object?> Items => connection.Items;
    public override CancellationToken ConnectionClosed => connection.Session.Closed;
    public override ITopics Topics => connection.PushEndpoint.Topics;
    public override IConnections Connections => connection.PushEndpoint.Connections;
}
