namespace Gateway.Server.Auth;

/// <summary>The gateway's 44xx close codes (docs/protocol.md): HTTP's 401 and 403, in the private range 4000-4999.</summary>
internal static class AuthCloseCodes
{
    /// <summary>The connection's credentials expired (or were revoked): reconnect with a fresh token.</summary>
    public const ushort TokenExpired = 4401;
    /// <summary>The connection's user is no longer allowed.</summary>
    public const ushort Forbidden = 4403;
}
