using Microsoft.Extensions.Logging;

namespace Gateway.Server.Auth;

/// <summary>Authentication's log lines (event ids 600-629). None of them ever carries a token.</summary>
internal static partial class AuthLog
{
    [LoggerMessage(600, LogLevel.Information, "[{ConnectionId}] authentication failed from {RemoteAddress}: {Reason} (credentials from {Source})")]
    public static partial void Failed(ILogger logger, long connectionId, string remoteAddress, string reason, string source);

    [LoggerMessage(601, LogLevel.Warning, "[{ConnectionId}] {RemoteAddress} refused with 429: {Failures} failed authentications within Gateway:Auth:FailureWindow")]
    public static partial void Throttled(ILogger logger, long connectionId, string remoteAddress, int failures);

    [LoggerMessage(602, LogLevel.Debug, "[{ConnectionId}] authenticated as '{UserId}' by {Scheme} (credentials from {Source})")]
    public static partial void Authenticated(ILogger logger, long connectionId, string userId, string scheme, string source);

    [LoggerMessage(603, LogLevel.Error, "[{ConnectionId}] authenticator {Authenticator} failed; the handshake is refused with 401")]
    public static partial void AuthenticatorFailed(ILogger logger, long connectionId, string authenticator, Exception exception);

    [LoggerMessage(604, LogLevel.Information, "JWKS fetched from {Url}: {Count} signing keys")]
    public static partial void JwksFetched(ILogger logger, string url, int count);

    [LoggerMessage(605, LogLevel.Warning, "JWKS fetch from {Url} failed ({Error}); keeping the {Count} keys fetched before")]
    public static partial void JwksFetchFailed(ILogger logger, string url, string error, int count);

    [LoggerMessage(606, LogLevel.Information, "[{ConnectionId}] closed with 4401: token expired")]
    public static partial void Expired(ILogger logger, long connectionId);

    [LoggerMessage(607, LogLevel.Debug, "[{ConnectionId}] credentials refreshed with $auth for '{UserId}', now valid until {ExpiresAt}")]
    public static partial void Refreshed(ILogger logger, long connectionId, string userId, string expiresAt);

    [LoggerMessage(608, LogLevel.Information, "[{ConnectionId}] $auth refused for {RemoteAddress}: {Reason}")]
    public static partial void RefreshRefused(ILogger logger, long connectionId, string remoteAddress, string reason);

    // The exception's type only: its message could quote the token.
    [LoggerMessage(610, LogLevel.Error, "[{ConnectionId}] token validation failed unexpectedly ({ExceptionType}); refused as an invalid token")]
    public static partial void ValidationError(ILogger logger, long connectionId, string exceptionType);

    [LoggerMessage(609, LogLevel.Information, "Authentication {Mode}: credentials from {Sources}; JWT keys: {Keys}; plugin authenticators: {Authenticators}")]
    public static partial void Configured(ILogger logger, string mode, string sources, string keys, string authenticators);
}
