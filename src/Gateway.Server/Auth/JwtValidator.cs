using System.Security.Claims;
using Gateway.Server.Options;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Server.Auth;

/// <summary>
/// The built-in JWT check (Microsoft.IdentityModel.JsonWebTokens) over every configured key source: Secret,
/// PublicKeyFile, JwksFile, JwksUrl. Signed tokens only, with an exp; issuer and audience when configured; each key
/// verifies only the algorithms of its type (<see cref="JwtKeys.Allows"/>). Runs once per handshake or $auth.
/// </summary>
internal sealed class JwtValidator : IDisposable
{
    public const string Scheme = "Bearer";

    private readonly JwtOptions _options;
    private readonly JsonWebTokenHandler _handler;
    private readonly SecurityKey[] _staticKeys;
    private readonly string[] _algorithms;

    public JwtValidator(JwtOptions options, int maxTokenBytes, GatewayMetrics metrics, ILogger log, HttpMessageHandler? jwksHandler = null)
    {
        _options = options;
        _handler = new JsonWebTokenHandler { MaximumTokenSizeInBytes = maxTokenBytes, MapInboundClaims = false };
        var keys = new List<SecurityKey>();
        // The options were validated at startup (GatewayOptionsValidator): these loads cannot fail here but for a file
        // changed in between, which is a configuration error all the same.
        if (!string.IsNullOrEmpty(options.Secret)) keys.Add(new SymmetricSecurityKey(JwtKeys.SecretBytes(options.Secret, out _)!));
        if (!string.IsNullOrEmpty(options.PublicKeyFile))
            keys.Add(JwtKeys.LoadPublicKey(options.PublicKeyFile, out var error)
                ?? throw new GatewayConfigurationException($"{GatewayOptions.SectionName}:Auth:Jwt:PublicKeyFile '{options.PublicKeyFile}' {error}."));
        if (!string.IsNullOrEmpty(options.JwksFile))
            keys.AddRange(JwtKeys.ParseJwks(File.ReadAllText(options.JwksFile), out var error)
                ?? throw new GatewayConfigurationException($"{GatewayOptions.SectionName}:Auth:Jwt:JwksFile '{options.JwksFile}' {error}."));
        _staticKeys = keys.ToArray();
        if (!string.IsNullOrEmpty(options.JwksUrl)) Jwks = new JwksSource(new Uri(options.JwksUrl), options.RefreshInterval, metrics, log, jwksHandler);
        _algorithms = [.. JwtKeys.HmacAlgorithms, .. JwtKeys.RsaAlgorithms, SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512];
    }

    public JwksSource? Jwks { get; }

    /// <summary>A short description of the key sources, for the startup line.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (_staticKeys.OfType<SymmetricSecurityKey>().FirstOrDefault() is { } secret)
            parts.Add(secret.KeySize >= 512 ? "Secret (HS256/384/512)" : secret.KeySize >= 384 ? "Secret (HS256/384)" : "Secret (HS256)");
        if (!string.IsNullOrEmpty(_options.PublicKeyFile)) parts.Add($"PublicKeyFile {_options.PublicKeyFile}");
        if (!string.IsNullOrEmpty(_options.JwksFile)) parts.Add($"JwksFile {_options.JwksFile}");
        if (Jwks is not null) parts.Add($"JwksUrl {_options.JwksUrl}");
        return string.Join(", ", parts);
    }

    public readonly record struct Outcome(AuthenticatedIdentity? Identity, AuthFailureReason Failure, bool Forbidden);

    public async ValueTask<Outcome> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        if (token.Length > _handler.MaximumTokenSizeInBytes) return Fail(AuthFailureReason.Oversize);
        if (!_handler.CanReadToken(token)) return Fail(AuthFailureReason.Malformed);
        JsonWebToken parsed;
        try { parsed = new JsonWebToken(token); }
        catch (Exception ex) when (ex is ArgumentException or SecurityTokenMalformedException) { return Fail(AuthFailureReason.Malformed); }

        if (Jwks is not null)
        {
            await Jwks.WhenInitializedAsync(cancellationToken).ConfigureAwait(false);
            // A key id we have never seen is how rotation looks from here: fetch the set again (rate-limited) before judging.
            if (!string.IsNullOrEmpty(parsed.Kid) && !HasKey(parsed.Kid)) await Jwks.RefreshAsync(cancellationToken).ConfigureAwait(false);
        }

        var result = await _handler.ValidateTokenAsync(parsed, Parameters()).ConfigureAwait(false);
        if (!result.IsValid) return Fail(Classify(result.Exception, parsed));

        var claims = new List<Claim>();
        string? userId = null;
        foreach (var claim in parsed.Claims)
        {
            claims.Add(claim);
            if (claim.Type == _options.UserIdClaim && userId is null) userId = claim.Value;
            // Roles under another claim name (e.g. "roles", "groups") become "role" claims, so IsInRole works the same everywhere.
            if (claim.Type == _options.RoleClaim && _options.RoleClaim != ClaimTypesRole) claims.Add(new Claim(ClaimTypesRole, claim.Value));
        }
        if (string.IsNullOrEmpty(userId) || userId.Length > 256) return new Outcome(null, AuthFailureReason.NoUserId, Forbidden: true);
        var identity = new ClaimsIdentity(claims, authenticationType: Scheme, nameType: _options.UserIdClaim, roleType: ClaimTypesRole);
        DateTimeOffset? expires = parsed.ValidTo == DateTime.MinValue ? null : new DateTimeOffset(DateTime.SpecifyKind(parsed.ValidTo, DateTimeKind.Utc));
        return new Outcome(new AuthenticatedIdentity(new ClaimsPrincipal(identity), userId, expires, Scheme), default, false);
    }

    private const string ClaimTypesRole = "role";

    private static Outcome Fail(AuthFailureReason reason) => new(null, reason, false);

    private bool HasKey(string kid)
    {
        if (Jwks is not null) foreach (var key in Jwks.Keys) if (key.KeyId == kid) return true;
        foreach (var key in _staticKeys) if (key.KeyId == kid) return true;
        return false;
    }

    private TokenValidationParameters Parameters()
    {
        var keys = Jwks is null ? _staticKeys : [.. _staticKeys, .. Jwks.Keys];
        return new TokenValidationParameters
        {
            IssuerSigningKeys = keys,
            ValidateIssuerSigningKey = true,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = _options.ClockSkew,
            ValidateIssuer = !string.IsNullOrEmpty(_options.Issuer),
            ValidIssuer = _options.Issuer,
            ValidateAudience = !string.IsNullOrEmpty(_options.Audience),
            ValidAudience = _options.Audience,
            ValidAlgorithms = _algorithms,
            AlgorithmValidator = static (algorithm, key, _, _) => JwtKeys.Allows(key, algorithm),
            NameClaimType = _options.UserIdClaim,
            RoleClaimType = ClaimTypesRole,
        };
    }

    private AuthFailureReason Classify(Exception? exception, JsonWebToken token) => exception switch
    {
        SecurityTokenExpiredException => AuthFailureReason.Expired,
        SecurityTokenNotYetValidException => AuthFailureReason.NotYetValid,
        SecurityTokenInvalidIssuerException => AuthFailureReason.WrongIssuer,
        SecurityTokenInvalidAudienceException => AuthFailureReason.WrongAudience,
        SecurityTokenInvalidAlgorithmException => AuthFailureReason.BadAlgorithm,
        SecurityTokenSignatureKeyNotFoundException when !string.IsNullOrEmpty(token.Kid) && !HasKey(token.Kid) => AuthFailureReason.UnknownKey,
        SecurityTokenInvalidSignatureException => AuthFailureReason.BadSignature,
        SecurityTokenMalformedException or ArgumentException => AuthFailureReason.Malformed,
        _ => AuthFailureReason.Invalid,
    };

    public void Dispose() => Jwks?.Dispose();
}
