namespace Gateway.Samples;

/// <summary>
/// Procedures for operators only: the whole service needs an authenticated connection in role <c>admin</c>. Anyone else
/// gets <c>UNAUTHENTICATED</c> (no credentials) or <c>PERMISSION_DENIED</c>, before any input is read.
/// </summary>
[RpcService("admin")]
[Authorize(Roles = "admin")]
public sealed class AdminService
{
    /// <summary>Answers <c>"pong"</c>: shows the caller holds the admin role.</summary>
    [Rpc("ping")]
    public string Ping() => "pong";
}
