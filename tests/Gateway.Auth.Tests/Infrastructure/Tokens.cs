using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Auth.Tests.Infrastructure;

/// <summary>Real signed tokens, made with the same library the gateway checks them with (never hand-rolled crypto).</summary>
public static class Tokens
{
    public const string Secret = "auth-tests-secret-0123456789-abcdefghij"; // 39 bytes
    public const string Issuer = "https://issuer.test";
    public const string Audience = "gateway-tests";

    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };

    public static SigningCredentials Hs256(string secret = Secret) => new(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256);

    public static SigningCredentials Rs256(RSA rsa, string? kid = null, string alg = SecurityAlgorithms.RsaSha256) =>
        new(new RsaSecurityKey(rsa) { KeyId = kid }, alg);

    public static SigningCredentials Es256(ECDsa ec, string? kid = null) => new(new ECDsaSecurityKey(ec) { KeyId = kid }, SecurityAlgorithms.EcdsaSha256);

    /// <summary>
    /// A token for <paramref name="user"/> (null: no sub claim) with <paramref name="roles"/> as the "role" claim (an array
    /// when more than one), valid from <paramref name="notBefore"/> (default a minute ago) until <paramref name="expires"/>
    /// (default in an hour).
    /// </summary>
    public static string Create(SigningCredentials? credentials = null, string? user = "ada", string[]? roles = null, DateTime? expires = null,
        DateTime? notBefore = null, string? issuer = Issuer, string? audience = Audience, IDictionary<string, object>? extra = null, string roleClaim = "role")
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object>();
        if (user is not null) claims["sub"] = user;
        if (roles is { Length: 1 }) claims[roleClaim] = roles[0];
        else if (roles is { Length: > 1 }) claims[roleClaim] = roles;
        if (extra is not null) foreach (var (k, v) in extra) claims[k] = v;
        var descriptor = new SecurityTokenDescriptor
        {
            Claims = claims,
            Issuer = issuer,
            Audience = audience,
            NotBefore = notBefore ?? now.AddMinutes(-1),
            IssuedAt = (notBefore ?? now.AddMinutes(-1)),
            Expires = expires ?? now.AddHours(1),
            SigningCredentials = credentials ?? Hs256(),
        };
        return Handler.CreateToken(descriptor);
    }

    /// <summary>An unsigned token: {"alg":"none"} and no signature.</summary>
    public static string Unsigned(string user = "ada")
    {
        long exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        string header = Base64UrlEncoder.Encode("{\"alg\":\"none\",\"typ\":\"JWT\"}");
        string payload = Base64UrlEncoder.Encode($"{{\"sub\":\"{user}\",\"iss\":\"{Issuer}\",\"aud\":\"{Audience}\",\"exp\":{exp}}}");
        return header + "." + payload + ".";
    }

    public static string PublicPem(RSA rsa) => rsa.ExportSubjectPublicKeyInfoPem();
    public static string PublicPem(ECDsa ec) => ec.ExportSubjectPublicKeyInfoPem();

    public static string RsaJwk(RSA rsa, string kid)
    {
        var p = rsa.ExportParameters(false);
        return $"{{\"kty\":\"RSA\",\"kid\":\"{kid}\",\"use\":\"sig\",\"n\":\"{Base64UrlEncoder.Encode(p.Modulus)}\",\"e\":\"{Base64UrlEncoder.Encode(p.Exponent)}\"}}";
    }

    public static string EcJwk(ECDsa ec, string kid)
    {
        var p = ec.ExportParameters(false);
        return $"{{\"kty\":\"EC\",\"kid\":\"{kid}\",\"use\":\"sig\",\"crv\":\"P-256\",\"x\":\"{Base64UrlEncoder.Encode(p.Q.X)}\",\"y\":\"{Base64UrlEncoder.Encode(p.Q.Y)}\"}}";
    }

    public static string Jwks(params string[] keys) => "{\"keys\":[" + string.Join(",", keys) + "]}";
}
