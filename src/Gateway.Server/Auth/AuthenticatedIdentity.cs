using System.Security.Claims;

namespace Gateway.Server.Auth;

/// <summary>Who a connection authenticated as: the principal handlers see, its user id, and when the credentials end.</summary>
internal sealed record AuthenticatedIdentity(ClaimsPrincipal Principal, string? UserId, DateTimeOffset? ExpiresAt, string Scheme);
