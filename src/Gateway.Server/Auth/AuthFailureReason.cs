namespace Gateway.Server.Auth;

/// <summary>Why an authentication failed, as counted in <c>gateway_auth_failures_total{reason}</c> (never the token itself).</summary>
internal enum AuthFailureReason
{
    /// <summary>Required mode, no credentials presented.</summary>
    Missing,
    /// <summary>Not a JWT (wrong number of parts, bad base64url or JSON).</summary>
    Malformed,
    /// <summary>Longer than Gateway:Auth:MaxTokenBytes: refused before parsing.</summary>
    Oversize,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    /// <summary>The signature does not verify (or there is none: alg "none").</summary>
    BadSignature,
    /// <summary>The token names a key (kid) the gateway does not have, even after a JWKS refresh.</summary>
    UnknownKey,
    /// <summary>The token's alg is not one its key's type allows (algorithm confusion).</summary>
    BadAlgorithm,
    /// <summary>A valid token without the Gateway:Auth:Jwt:UserIdClaim claim (or with an unusable one): 403.</summary>
    NoUserId,
    /// <summary>A token that no configured scheme can check (Optional mode without JWT keys).</summary>
    Unverifiable,
    /// <summary>Any other validation failure (e.g. no exp claim).</summary>
    Invalid,
    /// <summary>A plugin authenticator's Fail (401).</summary>
    Rejected,
    /// <summary>A plugin authenticator's Forbid (403).</summary>
    Forbidden,
    /// <summary>A plugin authenticator threw.</summary>
    AuthenticatorError,
    /// <summary>$auth with a token for another user.</summary>
    UserChanged,
    /// <summary>The address had too many failures in Gateway:Auth:FailureWindow: 429 before any token work.</summary>
    Throttled,
}

internal static class AuthFailureReasons
{
    public static readonly int Count = Enum.GetValues<AuthFailureReason>().Length;

    public static string Label(AuthFailureReason reason) => reason switch
    {
        AuthFailureReason.Missing => "missing",
        AuthFailureReason.Malformed => "malformed",
        AuthFailureReason.Oversize => "oversize",
        AuthFailureReason.Expired => "expired",
        AuthFailureReason.NotYetValid => "not_yet_valid",
        AuthFailureReason.WrongIssuer => "wrong_issuer",
        AuthFailureReason.WrongAudience => "wrong_audience",
        AuthFailureReason.BadSignature => "bad_signature",
        AuthFailureReason.UnknownKey => "unknown_key",
        AuthFailureReason.BadAlgorithm => "bad_algorithm",
        AuthFailureReason.NoUserId => "no_user_id",
        AuthFailureReason.Unverifiable => "unverifiable",
        AuthFailureReason.Rejected => "rejected",
        AuthFailureReason.Forbidden => "forbidden",
        AuthFailureReason.AuthenticatorError => "authenticator_error",
        AuthFailureReason.UserChanged => "user_changed",
        AuthFailureReason.Throttled => "throttled",
        _ => "invalid",
    };

    /// <summary>What the client is told (and the log says): precise, and never containing the token.</summary>
    public static string Message(AuthFailureReason reason) => reason switch
    {
        AuthFailureReason.Missing => "credentials are required: send 'Authorization: Bearer <token>' (or see docs/protocol.md for the other ways)",
        AuthFailureReason.Malformed => "the token is not a well-formed JWT",
        AuthFailureReason.Oversize => "the token is longer than this gateway accepts",
        AuthFailureReason.Expired => "the token has expired",
        AuthFailureReason.NotYetValid => "the token is not valid yet",
        AuthFailureReason.WrongIssuer => "the token's issuer is not accepted",
        AuthFailureReason.WrongAudience => "the token's audience is not accepted",
        AuthFailureReason.BadSignature => "the token's signature does not verify",
        AuthFailureReason.UnknownKey => "the token is signed with an unknown key",
        AuthFailureReason.BadAlgorithm => "the token's signing algorithm is not accepted for its key",
        AuthFailureReason.Unverifiable => "this gateway has no way to check the token presented",
        AuthFailureReason.UserChanged => "the token is for a different user; reconnect to change user",
        AuthFailureReason.Throttled => "too many failed authentications from this address; retry later",
        _ => "the token is not valid",
    };
}
