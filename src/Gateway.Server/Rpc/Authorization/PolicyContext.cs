using System.Net;
using System.Security.Claims;

namespace Gateway.Server.Rpc;

/// <summary>
/// The <see cref="RpcContext"/> an <see cref="IRpcAuthorizationPolicy"/> sees: the connection and the procedure asked for,
/// before any call exists. One per connection, made on its first policy check and reused: policies run on the read loop,
/// one at a time. Its token fires when the connection closes; progress has nowhere to go.
/// </summary>
internal sealed class PolicyContext(RpcConnection connection) : RpcContext
{
    public Procedure? Procedure { get; set; }

    public override string ConnectionId => connection.ConnectionId;
    public override IPEndPoint? RemoteEndPoint => connection.Session.RemoteEndPoint;
    public override IReadOnlyDictionary<string, string> RequestHeaders => connection.Session.Request.ToDictionary();
    public override IDictionary<string, object?> Items => connection.Items;
    public override string Path => Procedure?.Name ?? "";
    public override ClaimsPrincipal User => connection.User;
    public override string? UserId { get => connection.UserId; set => connection.UserId = value; }
    public override ValueTask SetUserIdAsync(string? userId) => connection.PushEndpoint.SetUserAsync(connection.Push, userId, CancellationToken);
    public override CancellationToken CancellationToken => connection.Session.Closed;
    public override ValueTask ReportProgressAsync<T>(T value) => default;
    public override ITopics Topics => connection.PushEndpoint.Topics;
    public override IConnections Connections => connection.PushEndpoint.Connections;
}
