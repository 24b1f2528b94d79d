using System.Net;
using System.Security.Claims;
using Gateway.Protocol.Http;
using Gateway.Server.Options;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.Auth;

/// <summary>
/// Authentication at the handshake (Gateway:Auth). In order: an address over Gateway:Auth:FailureLimit gets 429 before
/// anything else; the plugins' <see cref="IConnectionAuthenticator"/>s are asked in registration order; then the
/// bearer token (<see cref="Credentials"/>) goes to the built-in JWT check. Required mode refuses a handshake without
/// valid credentials (401); both modes refuse invalid credentials that were presented (401) and valid ones that are not
/// allowed (403). Also validates <c>$auth</c> tokens. Every failure is counted by reason, logged within the log budget
/// with the remote address, and counted against that address.
/// </summary>
internal sealed class ConnectionAuthentication : IDisposable
{
    private readonly AuthOptions _options;
    private readonly IConnectionAuthenticator[] _authenticators;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _log;
    private readonly FailureThrottle _throttle;
    private readonly long _skewMs;

    public ConnectionAuthentication(AuthOptions options, IEnumerable<IConnectionAuthenticator> authenticators, GatewayMetrics metrics, ILogger log,
        HttpMessageHandler? jwksHandler = null)
    {
        _options = options;
        _authenticators = authenticators.ToArray();
        _metrics = metrics;
        _log = log;
        _throttle = new FailureThrottle(options.FailureLimit, options.FailureWindow);
        _skewMs = (long)options.Jwt.ClockSkew.TotalMilliseconds;
        if (options.Mode == AuthMode.None) return;
        if (options.Jwt.HasKeys) Jwt = new JwtValidator(options.Jwt, options.MaxTokenBytes, metrics, log, jwksHandler);
        if (Jwt is null && _authenticators.Length == 0)
            throw new GatewayConfigurationException($"{GatewayOptions.SectionName}:Auth:Mode is {options.Mode}, but nothing can check credentials: set " +
                $"{GatewayOptions.SectionName}:Auth:Jwt:Secret, PublicKeyFile, JwksFile or JwksUrl, or register an IConnectionAuthenticator in a plugin.");
    }

    public AuthMode Mode => _options.Mode;
    public JwtValidator? Jwt { get; }
    internal FailureThrottle Throttle => _throttle;

    /// <summary>Logs the configuration and starts the first JWKS fetch (in the background).</summary>
    public void Start()
    {
        if (Mode == AuthMode.None) return;
        var sources = new List<string> { "Authorization header", "bearer.* subprotocol" };
        if (!string.IsNullOrEmpty(_options.QueryParameter)) sources.Add($"query parameter '{_options.QueryParameter}'");
        if (!string.IsNullOrEmpty(_options.Cookie)) sources.Add($"cookie '{_options.Cookie}'");
        AuthLog.Configured(_log, Mode.ToString(), string.Join(", ", sources), Jwt?.Describe() is { Length: > 0 } k ? k : "none",
            _authenticators.Length == 0 ? "none" : string.Join(", ", _authenticators.Select(a => a.GetType().FullName)));
        _ = Jwt?.Jwks?.StartAsync();
    }

    /// <summary>The outcome of a handshake's authentication: Status 0 = go ahead (Identity null for an anonymous connection).</summary>
    public readonly record struct Result(int Status, string Code, string Message, AuthenticatedIdentity? Identity, TimeSpan RetryAfter)
    {
        public static Result Anonymous => default;
    }

    /// <summary>The Unix time (ms) at which a connection with these credentials is closed with 4401; 0 = never.</summary>
    public long ExpiryDeadlineMs(AuthenticatedIdentity? identity) =>
        identity?.ExpiresAt is { } at ? at.ToUnixTimeMilliseconds() + _skewMs : 0;

    public async ValueTask<Result> AuthenticateAsync(long connectionId, HttpRequestHead request, IPEndPoint? remote, CancellationToken cancellationToken)
    {
        if (Mode == AuthMode.None) return Result.Anonymous;
        var address = remote?.Address;
        if (_throttle.IsBlocked(address, out var retryAfter, out int failures))
        {
            _metrics.AuthFailed(AuthFailureReason.Throttled);
            if (_metrics.LogBudget.Allow(_log, LogLevel.Warning)) AuthLog.Throttled(_log, connectionId, Describe(remote), failures);
            return new Result(429, "RESOURCE_EXHAUSTED", AuthFailureReasons.Message(AuthFailureReason.Throttled), null, retryAfter);
        }

        string? token = Credentials.Find(request, _options, out var source);
        if (token is not null && token.Length > _options.MaxTokenBytes) return Refuse(connectionId, remote, AuthFailureReason.Oversize, source);

        if (_authenticators.Length > 0)
        {
            var view = new ConnectionAuthenticationRequest(request.ToDictionary(), request.Path, Credentials.ParseQuery(request.Query), remote, token);
            foreach (var authenticator in _authenticators)
            {
                ConnectionAuthenticationResult answer;
                try
                {
                    answer = await authenticator.AuthenticateAsync(view, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    if (_metrics.LogBudget.Allow(_log, LogLevel.Error)) AuthLog.AuthenticatorFailed(_log, connectionId, authenticator.GetType().FullName!, ex);
                    return Refuse(connectionId, remote, AuthFailureReason.AuthenticatorError, source);
                }
                switch (answer?.Outcome)
                {
                    case ConnectionAuthenticationOutcome.Success:
                        var principal = answer.Principal!;
                        string? userId = principal.FindFirst(_options.Jwt.UserIdClaim)?.Value ?? principal.Identity?.Name;
                        if (userId is { Length: 0 or > 256 })
                            return Refuse(connectionId, remote, AuthFailureReason.NoUserId, source, forbidden: true, "the user id must be 1 to 256 characters");
                        var identity = new AuthenticatedIdentity(principal, userId, answer.ExpiresAt, principal.Identity?.AuthenticationType ?? authenticator.GetType().Name);
                        return Accept(connectionId, identity, source);
                    case ConnectionAuthenticationOutcome.Fail:
                        return Refuse(connectionId, remote, AuthFailureReason.Rejected, source, forbidden: false, answer.Reason);
                    case ConnectionAuthenticationOutcome.Forbid:
                        return Refuse(connectionId, remote, AuthFailureReason.Forbidden, source, forbidden: true, answer.Reason);
                }
            }
        }

        if (token is null)
            return Mode == AuthMode.Required ? Refuse(connectionId, remote, AuthFailureReason.Missing, source) : Result.Anonymous;
        if (Jwt is null) return Refuse(connectionId, remote, AuthFailureReason.Unverifiable, source);
        JwtValidator.Outcome outcome;
        try { outcome = await Jwt.ValidateAsync(token, cancellationToken).ConfigureAwait(false); }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The library refusing an input in a way we did not foresee is still that client's bad token, never a crash.
            if (_metrics.LogBudget.Allow(_log, LogLevel.Error)) AuthLog.ValidationError(_log, connectionId, ex.GetType().Name);
            return Refuse(connectionId, remote, AuthFailureReason.Invalid, source);
        }
        if (outcome.Identity is null) return Refuse(connectionId, remote, outcome.Failure, source, outcome.Forbidden);
        return Accept(connectionId, outcome.Identity, source);
    }

    /// <summary>The outcome of a <c>$auth</c> token check: Identity, or an error code and message for the caller.</summary>
    public readonly record struct RefreshResult(AuthenticatedIdentity? Identity, ErrorCode Code, string? Message, TimeSpan RetryAfter);

    /// <summary>Checks a token sent with <c>$auth</c> by the connection <paramref name="connectionId"/>, which authenticated as <paramref name="current"/> (null: anonymous).</summary>
    public async ValueTask<RefreshResult> RefreshAsync(long connectionId, IPEndPoint? remote, AuthenticatedIdentity? current, string token, CancellationToken cancellationToken)
    {
        if (Mode == AuthMode.None)
            return new(null, ErrorCode.FailedPrecondition, $"authentication is off on this gateway ({GatewayOptions.SectionName}:Auth:Mode is None)", default);
        if (Jwt is null)
            return new(null, ErrorCode.FailedPrecondition, $"this gateway checks no tokens in-band ({GatewayOptions.SectionName}:Auth:Jwt has no keys)", default);
        if (_throttle.IsBlocked(remote?.Address, out var retryAfter, out _))
        {
            _metrics.AuthFailed(AuthFailureReason.Throttled);
            return new(null, ErrorCode.ResourceExhausted, AuthFailureReasons.Message(AuthFailureReason.Throttled), retryAfter);
        }
        var reason = AuthFailureReason.Invalid;
        var code = ErrorCode.Unauthenticated;
        if (token.Length > _options.MaxTokenBytes) reason = AuthFailureReason.Oversize;
        else
        {
            JwtValidator.Outcome outcome;
            try { outcome = await Jwt.ValidateAsync(token, cancellationToken).ConfigureAwait(false); }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                if (_metrics.LogBudget.Allow(_log, LogLevel.Error)) AuthLog.ValidationError(_log, connectionId, ex.GetType().Name);
                outcome = new JwtValidator.Outcome(null, AuthFailureReason.Invalid, false);
            }
            if (outcome.Identity is { } identity)
            {
                if (current is null || string.Equals(current.UserId, identity.UserId, StringComparison.Ordinal))
                {
                    if (_metrics.LogBudget.Allow(_log, LogLevel.Debug))
                        AuthLog.Refreshed(_log, connectionId, identity.UserId!, identity.ExpiresAt?.ToString("O") ?? "(no expiry)");
                    return new(identity, default, null, default);
                }
                reason = AuthFailureReason.UserChanged;
                code = ErrorCode.PermissionDenied;
            }
            else
            {
                reason = outcome.Failure;
                if (outcome.Forbidden) code = ErrorCode.PermissionDenied;
            }
        }
        _metrics.AuthFailed(reason);
        _throttle.RecordFailure(remote?.Address);
        if (_metrics.LogBudget.Allow(_log, LogLevel.Information)) AuthLog.RefreshRefused(_log, connectionId, Describe(remote), AuthFailureReasons.Label(reason));
        return new(null, code, MessageFor(reason), default);
    }

    private Result Accept(long connectionId, AuthenticatedIdentity identity, CredentialSource source)
    {
        _metrics.Authenticated();
        if (_metrics.LogBudget.Allow(_log, LogLevel.Debug)) AuthLog.Authenticated(_log, connectionId, identity.UserId ?? "(none)", identity.Scheme, SourceName(source));
        return new Result(0, "", "", identity, default);
    }

    private Result Refuse(long connectionId, IPEndPoint? remote, AuthFailureReason reason, CredentialSource source, bool forbidden = false, string? message = null)
    {
        _metrics.AuthFailed(reason);
        _throttle.RecordFailure(remote?.Address);
        message ??= MessageFor(reason);
        if (_metrics.LogBudget.Allow(_log, LogLevel.Information))
            AuthLog.Failed(_log, connectionId, Describe(remote), $"{AuthFailureReasons.Label(reason)}: {message}", SourceName(source));
        return forbidden
            ? new Result(403, "PERMISSION_DENIED", message, null, default)
            : new Result(401, "UNAUTHENTICATED", message, null, default);
    }

    private string MessageFor(AuthFailureReason reason) => reason == AuthFailureReason.NoUserId
        ? $"the token carries no usable '{_options.Jwt.UserIdClaim}' claim (1 to 256 characters)"
        : AuthFailureReasons.Message(reason);

    private static string Describe(IPEndPoint? remote) => remote?.Address.ToString() ?? "(unknown)";

    private static string SourceName(CredentialSource source) => source switch
    {
        CredentialSource.Header => "Authorization header",
        CredentialSource.Subprotocol => "subprotocol",
        CredentialSource.Query => "query",
        CredentialSource.Cookie => "cookie",
        _ => "nowhere",
    };

    public void Dispose() => Jwt?.Dispose();
}
