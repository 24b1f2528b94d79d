using Gateway.Server.Auth;

namespace Gateway.Server.WebSockets;

public sealed partial class WebSocketSession
{
    private long _credentialsExpireAtMs;

    /// <summary>Who the handshake authenticated (null: anonymous); replaced by <c>$auth</c>.</summary>
    internal AuthenticatedIdentity? Identity { get; set; }

    /// <summary>The authentication that admitted this session (<c>$auth</c> checks tokens with it); null when built without one.</summary>
    internal ConnectionAuthentication? Authentication { get; set; }

    /// <summary>Unix time (ms) after which the heartbeat closes the session with 4401; 0 = never.</summary>
    internal long CredentialsExpireAtMs
    {
        get => Volatile.Read(ref _credentialsExpireAtMs);
        set => Volatile.Write(ref _credentialsExpireAtMs, value);
    }

    /// <summary>Called by the heartbeat with the wall clock: true when the credentials have run out.</summary>
    internal bool CredentialsExpired(long unixNowMs)
    {
        long at = CredentialsExpireAtMs;
        return at != 0 && unixNowMs >= at;
    }
}
