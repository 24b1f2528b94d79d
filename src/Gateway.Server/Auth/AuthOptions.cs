namespace Gateway.Server.Options;

/// <summary>What a WebSocket handshake must present (Gateway:Auth:Mode).</summary>
public enum AuthMode
{
    /// <summary>Authentication is off: credentials are not read, every connection is anonymous.</summary>
    None,
    /// <summary>Anonymous connections are allowed (procedures decide); credentials that are presented must be valid.</summary>
    Optional,
    /// <summary>No valid credentials, no upgrade (HTTP 401).</summary>
    Required,
}

/// <summary>Gateway:Auth: authentication at the handshake. Documented in docs/configuration.md.</summary>
public sealed class AuthOptions
{
    /// <summary>None (the default), Optional or Required.</summary>
    public AuthMode Mode { get; set; } = AuthMode.None;
    /// <summary>Query parameter that may carry the bearer token (for clients that cannot set headers); empty = not read.</summary>
    public string QueryParameter { get; set; } = "access_token";
    /// <summary>Cookie that may carry the bearer token; empty (the default) = not read.</summary>
    public string? Cookie { get; set; }
    /// <summary>Longest token accepted, in bytes; longer ones are refused before any parsing.</summary>
    public int MaxTokenBytes { get; set; } = 8 * 1024;
    /// <summary>Failed handshakes from one IP address within FailureWindow after which that address gets 429; 0 = no limit.</summary>
    public int FailureLimit { get; set; } = 20;
    /// <summary>The window FailureLimit counts in (fixed windows per address).</summary>
    public TimeSpan FailureWindow { get; set; } = TimeSpan.FromMinutes(1);
    public JwtOptions Jwt { get; set; } = new();
}

/// <summary>Gateway:Auth:Jwt: the built-in JWT validation.</summary>
public sealed class JwtOptions
{
    /// <summary>Required value of the "iss" claim; empty = not checked.</summary>
    public string? Issuer { get; set; }
    /// <summary>Required value in the "aud" claim; empty = not checked.</summary>
    public string? Audience { get; set; }
    /// <summary>HMAC secret (HS256/HS384/HS512): its UTF-8 bytes, or "base64:..." for binary secrets; at least 32 bytes.</summary>
    public string? Secret { get; set; }
    /// <summary>PEM file holding an RSA or EC public key (RS256/384/512, PS256/384/512, ES256/384/512).</summary>
    public string? PublicKeyFile { get; set; }
    /// <summary>A JSON Web Key Set file.</summary>
    public string? JwksFile { get; set; }
    /// <summary>A JSON Web Key Set URL (an OIDC provider's jwks_uri), fetched at start and again for an unknown kid.</summary>
    public string? JwksUrl { get; set; }
    /// <summary>Least time between two fetches of JwksUrl (an unknown kid refetches at most this often).</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>Tolerance for exp and nbf (clock differences between the issuer and the gateway).</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>Claim holding the user id (becomes RpcContext.UserId).</summary>
    public string UserIdClaim { get; set; } = "sub";
    /// <summary>Claim holding the roles (a string or an array of strings); each becomes a "role" claim.</summary>
    public string RoleClaim { get; set; } = "role";

    /// <summary>True when any key source is configured.</summary>
    internal bool HasKeys => !string.IsNullOrEmpty(Secret) || !string.IsNullOrEmpty(PublicKeyFile) || !string.IsNullOrEmpty(JwksFile) || !string.IsNullOrEmpty(JwksUrl);
}
