using Gateway.Server.Options;

namespace Gateway.Server.Auth;

/// <summary>
/// The Gateway:Auth checks of <see cref="GatewayOptionsValidator"/>: ranges, names, and the key sources themselves
/// (a short secret, a PEM or JWKS file that does not load) stop the server at startup, naming the key.
/// </summary>
internal static class AuthOptionsValidation
{
    public static void Collect(AuthOptions o, List<string> errors)
    {
        const string A = GatewayOptions.SectionName + ":Auth";
        if (!Enum.IsDefined(o.Mode))
            errors.Add($"{A}:Mode must be one of {string.Join(", ", Enum.GetNames<AuthMode>())} (got '{o.Mode}').");
        if (!string.IsNullOrEmpty(o.QueryParameter) && !IsToken(o.QueryParameter))
            errors.Add($"{A}:QueryParameter must be a parameter name of letters, digits, '_', '-' and '.' (up to 64), or empty to turn the query off (got '{o.QueryParameter}').");
        if (!string.IsNullOrEmpty(o.Cookie) && !IsToken(o.Cookie))
            errors.Add($"{A}:Cookie must be a cookie name of letters, digits, '_', '-' and '.' (up to 64), or empty to turn cookies off (got '{o.Cookie}').");
        GatewayOptionsValidator.Range(errors, $"{A}:MaxTokenBytes", o.MaxTokenBytes, 256, 64 * 1024);
        GatewayOptionsValidator.Range(errors, $"{A}:FailureLimit", o.FailureLimit, 0, 1_000_000);
        GatewayOptionsValidator.Range(errors, $"{A}:FailureWindow", o.FailureWindow, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));

        var j = o.Jwt;
        const string J = A + ":Jwt";
        if (!string.IsNullOrEmpty(j.Secret))
        {
            var bytes = JwtKeys.SecretBytes(j.Secret, out var error);
            if (bytes is null) errors.Add($"{J}:Secret {error}.");
            else if (bytes.Length < JwtKeys.MinSecretBytes)
                errors.Add($"{J}:Secret must be at least {JwtKeys.MinSecretBytes} bytes (HS256 needs a 256-bit key; got {bytes.Length} bytes).");
        }
        if (!string.IsNullOrEmpty(j.PublicKeyFile))
        {
            if (JwtKeys.LoadPublicKey(j.PublicKeyFile, out var error) is null) errors.Add($"{J}:PublicKeyFile '{j.PublicKeyFile}' {error}.");
        }
        if (!string.IsNullOrEmpty(j.JwksFile))
        {
            string? text = null;
            try { text = File.ReadAllText(j.JwksFile); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                errors.Add($"{J}:JwksFile '{j.JwksFile}' cannot be read ({ex.Message}).");
            }
            if (text is not null && JwtKeys.ParseJwks(text, out var error) is null) errors.Add($"{J}:JwksFile '{j.JwksFile}' {error}.");
        }
        if (!string.IsNullOrEmpty(j.JwksUrl)
            && (!Uri.TryCreate(j.JwksUrl, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp)))
            errors.Add($"{J}:JwksUrl must be an absolute http:// or https:// URL (got '{j.JwksUrl}').");
        GatewayOptionsValidator.Range(errors, $"{J}:RefreshInterval", j.RefreshInterval, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        GatewayOptionsValidator.Range(errors, $"{J}:ClockSkew", j.ClockSkew, TimeSpan.Zero, TimeSpan.FromHours(1));
        if (string.IsNullOrWhiteSpace(j.UserIdClaim)) errors.Add($"{J}:UserIdClaim must name a claim (default 'sub').");
        if (string.IsNullOrWhiteSpace(j.RoleClaim)) errors.Add($"{J}:RoleClaim must name a claim (default 'role').");
    }

    private static bool IsToken(string name) =>
        name.Length <= 64 && name.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-' or '.');
}
