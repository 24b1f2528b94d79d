using System.Net;
using System.Security.Claims;

namespace Gateway;

/// <summary>
/// A custom authentication scheme (API keys, session cookies, identity headers set by a trusted proxy...). Register
/// one or more in <see cref="IGatewayPlugin.ConfigureServices"/> (<c>services.AddSingleton&lt;IConnectionAuthenticator, MyScheme&gt;()</c>).
/// At every WebSocket handshake, while <c>Gateway:Auth:Mode</c> is <c>Optional</c> or <c>Required</c>, the gateway asks
/// each one in registration order, before its built-in JWT validation; the first answer other than
/// <see cref="ConnectionAuthenticationResult.NotMine"/> decides.
/// </summary>
/// <remarks>
/// Runs once per handshake, before the upgrade, on the connection's own task (never on another connection's read
/// loop). Keep it quick: the handshake must finish within <c>Gateway:Timeouts:Handshake</c>. An exception is logged and
/// answered like <see cref="ConnectionAuthenticationResult.Fail"/> (HTTP 401). Never put a credential in a reason:
/// reasons are logged and sent to the client.
/// </remarks>
public interface IConnectionAuthenticator
{
    /// <summary>Decides about one handshake.</summary>
    /// <param name="request">The request head: headers, path, query, remote address, and the bearer token the gateway found, if any.</param>
    /// <param name="cancellationToken">Fires when the client goes away or the server stops.</param>
    ValueTask<ConnectionAuthenticationResult> AuthenticateAsync(ConnectionAuthenticationRequest request, CancellationToken cancellationToken);
}

/// <summary>What an <see cref="IConnectionAuthenticator"/> sees of a WebSocket handshake.</summary>
public sealed class ConnectionAuthenticationRequest
{
    /// <summary>Creates a request (the gateway does; tests of an authenticator may too).</summary>
    public ConnectionAuthenticationRequest(IReadOnlyDictionary<string, string> headers, string path, IReadOnlyDictionary<string, string> query,
        IPEndPoint? remoteEndPoint, string? bearerToken)
    {
        Headers = headers;
        Path = path;
        Query = query;
        RemoteEndPoint = remoteEndPoint;
        BearerToken = bearerToken;
    }

    /// <summary>The request's headers (case-insensitive names; repeated headers joined with ", ").</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The request path, without the query (e.g. <c>/ws</c>).</summary>
    public string Path { get; }

    /// <summary>The query parameters, percent-decoded (the first value of a repeated name; case-sensitive names).</summary>
    public IReadOnlyDictionary<string, string> Query { get; }

    /// <summary>The client's address as the gateway sees it (a proxy's, behind one).</summary>
    public IPEndPoint? RemoteEndPoint { get; }

    /// <summary>
    /// The bearer token found by the gateway's rules (first match wins: <c>Authorization: Bearer</c>, a <c>bearer.</c>
    /// entry in <c>Sec-WebSocket-Protocol</c>, the <c>Gateway:Auth:QueryParameter</c>, the <c>Gateway:Auth:Cookie</c>), or
    /// null. An opaque-token scheme validates it here; a scheme that does not use bearer tokens ignores it.
    /// </summary>
    public string? BearerToken { get; }
}

/// <summary>How an <see cref="ConnectionAuthenticationResult"/> ends the question.</summary>
public enum ConnectionAuthenticationOutcome
{
    /// <summary>The request carries nothing this scheme recognises: ask the next one (then the built-in JWT).</summary>
    NotMine,
    /// <summary>Authenticated: the connection runs as <see cref="ConnectionAuthenticationResult.Principal"/>.</summary>
    Success,
    /// <summary>The credentials are this scheme's but invalid: HTTP 401 <c>UNAUTHENTICATED</c>, no upgrade.</summary>
    Fail,
    /// <summary>The credentials are valid but this client may not connect: HTTP 403 <c>PERMISSION_DENIED</c>, no upgrade.</summary>
    Forbid,
}

/// <summary>The answer of an <see cref="IConnectionAuthenticator"/>.</summary>
public sealed class ConnectionAuthenticationResult
{
    private ConnectionAuthenticationResult(ConnectionAuthenticationOutcome outcome, ClaimsPrincipal? principal, DateTimeOffset? expiresAt, string? reason)
    {
        Outcome = outcome;
        Principal = principal;
        ExpiresAt = expiresAt;
        Reason = reason;
    }

    /// <summary>The request is not for this scheme: the next authenticator (then the built-in JWT) decides.</summary>
    public static ConnectionAuthenticationResult NotMine { get; } = new(ConnectionAuthenticationOutcome.NotMine, null, null, null);

    /// <summary>
    /// Authenticated as <paramref name="principal"/>. Its identity must be authenticated (built with an authentication
    /// type); the connection's user id is the identity's <c>Gateway:Auth:Jwt:UserIdClaim</c> claim, else its
    /// <see cref="System.Security.Principal.IIdentity.Name"/>. With <paramref name="expiresAt"/>, the connection is closed
    /// with 4401 once that moment passes (unless <c>$auth</c> refreshes it first).
    /// </summary>
    public static ConnectionAuthenticationResult Success(ClaimsPrincipal principal, DateTimeOffset? expiresAt = null)
    {
        ArgumentNullException.ThrowIfNull(principal);
        if (principal.Identity is not { IsAuthenticated: true })
            throw new ArgumentException("the principal's identity must be authenticated (give its ClaimsIdentity an authentication type)", nameof(principal));
        return new(ConnectionAuthenticationOutcome.Success, principal, expiresAt, null);
    }

    /// <summary>The credentials are this scheme's but not valid: 401 <c>UNAUTHENTICATED</c> with <paramref name="reason"/> (no secrets in it).</summary>
    public static ConnectionAuthenticationResult Fail(string reason) => new(ConnectionAuthenticationOutcome.Fail, null, null, Check(reason));

    /// <summary>Valid credentials, but this client may not connect: 403 <c>PERMISSION_DENIED</c> with <paramref name="reason"/> (no secrets in it).</summary>
    public static ConnectionAuthenticationResult Forbid(string reason) => new(ConnectionAuthenticationOutcome.Forbid, null, null, Check(reason));

    /// <summary>Which of the four answers this is.</summary>
    public ConnectionAuthenticationOutcome Outcome { get; }

    /// <summary>The authenticated principal (<see cref="ConnectionAuthenticationOutcome.Success"/> only).</summary>
    public ClaimsPrincipal? Principal { get; }

    /// <summary>When the credentials stop being valid, if they do (<see cref="ConnectionAuthenticationOutcome.Success"/> only).</summary>
    public DateTimeOffset? ExpiresAt { get; }

    /// <summary>Why the handshake was refused (<see cref="ConnectionAuthenticationOutcome.Fail"/> and <see cref="ConnectionAuthenticationOutcome.Forbid"/>).</summary>
    public string? Reason { get; }

    private static string Check(string reason) =>
        string.IsNullOrWhiteSpace(reason) ? throw new ArgumentException("a rejection needs a reason", nameof(reason)) : reason;
}
