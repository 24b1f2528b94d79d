using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Server.Auth;

/// <summary>
/// Loads the configured verification keys and says which algorithms each may verify. The algorithm is pinned to the
/// key's type (an HMAC key verifies only HS*, an RSA key only RS*/PS*, an EC key only the ES* of its curve): a token
/// cannot choose how it is checked, so an HS256 token "signed" with an RSA public key's bytes never verifies, and
/// "alg":"none" has no key at all.
/// </summary>
internal static class JwtKeys
{
    public const int MinSecretBytes = 32;
    public static readonly string[] HmacAlgorithms = [SecurityAlgorithms.HmacSha256, SecurityAlgorithms.HmacSha384, SecurityAlgorithms.HmacSha512];
    public static readonly string[] RsaAlgorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
    ];

    /// <summary>Secret bytes: "base64:..." decoded, anything else as UTF-8.</summary>
    public static byte[]? SecretBytes(string secret, out string? error)
    {
        error = null;
        if (secret.StartsWith("base64:", StringComparison.Ordinal))
        {
            try { return Convert.FromBase64String(secret["base64:".Length..]); }
            catch (FormatException) { error = "starts with 'base64:' but the rest is not base64"; return null; }
        }
        return Encoding.UTF8.GetBytes(secret);
    }

    /// <summary>An RSA or EC public key from a PEM file (SubjectPublicKeyInfo, PKCS#1 RSA, or a certificate).</summary>
    public static SecurityKey? LoadPublicKey(string path, out string? error)
    {
        error = null;
        string pem;
        try { pem = File.ReadAllText(path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error = $"cannot be read ({ex.Message})";
            return null;
        }
        if (pem.Contains("PRIVATE KEY", StringComparison.Ordinal))
        {
            // A private key file would work (the public half is inside) but means a secret was copied where it does not belong.
            error = "holds a private key; give the gateway the public key only (openssl pkey -pubout)";
            return null;
        }
        if (pem.Contains("BEGIN CERTIFICATE", StringComparison.Ordinal))
        {
            try
            {
                using var cert = X509Certificate2.CreateFromPem(pem);
                if (cert.GetRSAPublicKey() is { } certRsa) return new RsaSecurityKey(certRsa);
                if (cert.GetECDsaPublicKey() is { } certEc) return new ECDsaSecurityKey(certEc);
            }
            catch (CryptographicException ex) { error = $"is not a valid PEM certificate ({ex.Message})"; return null; }
            error = "holds a certificate whose key is neither RSA nor EC";
            return null;
        }
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return new RsaSecurityKey(rsa);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException) { rsa.Dispose(); }
        var ec = ECDsa.Create();
        try
        {
            ec.ImportFromPem(pem);
            return new ECDsaSecurityKey(ec);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException) { ec.Dispose(); }
        error = "holds no PEM RSA or EC public key (expected '-----BEGIN PUBLIC KEY-----')";
        return null;
    }

    /// <summary>The signing keys of a JSON Web Key Set document.</summary>
    public static IList<SecurityKey>? ParseJwks(string json, out string? error)
    {
        error = null;
        try
        {
            var set = new JsonWebKeySet(json);
            var keys = set.GetSigningKeys();
            if (keys.Count == 0)
            {
                error = "holds no usable signing key (RSA or EC with use 'sig' or no use)";
                return null;
            }
            return keys;
        }
        catch (Exception ex) when (ex is ArgumentException or System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            error = "is not a JSON Web Key Set ({\"keys\":[...]})";
            return null;
        }
    }

    /// <summary>True when <paramref name="algorithm"/> is one the key's type (and curve, and its own "alg" if it has one) allows.</summary>
    public static bool Allows(SecurityKey key, string algorithm)
    {
        if (key is JsonWebKey jwk)
        {
            if (!string.IsNullOrEmpty(jwk.Alg) && !string.Equals(jwk.Alg, algorithm, StringComparison.Ordinal)) return false;
            return jwk.Kty switch
            {
                "RSA" => Array.IndexOf(RsaAlgorithms, algorithm) >= 0,
                "EC" => algorithm == EcAlgorithm(jwk.Crv),
                "oct" => Array.IndexOf(HmacAlgorithms, algorithm) >= 0,
                _ => false,
            };
        }
        return key switch
        {
            // HS384/HS512 need a key of at least their hash size; a shorter secret verifies HS256 only.
            SymmetricSecurityKey s => algorithm switch
            {
                SecurityAlgorithms.HmacSha256 => true,
                SecurityAlgorithms.HmacSha384 => s.KeySize >= 384,
                SecurityAlgorithms.HmacSha512 => s.KeySize >= 512,
                _ => false,
            },
            RsaSecurityKey => Array.IndexOf(RsaAlgorithms, algorithm) >= 0,
            ECDsaSecurityKey ec => algorithm == EcAlgorithm(ec.KeySize),
            _ => false,
        };
    }

    private static string? EcAlgorithm(string? curve) => curve switch
    {
        "P-256" => SecurityAlgorithms.EcdsaSha256,
        "P-384" => SecurityAlgorithms.EcdsaSha384,
        "P-521" => SecurityAlgorithms.EcdsaSha512,
        _ => null,
    };

    private static string? EcAlgorithm(int keySize) => keySize switch
    {
        256 => SecurityAlgorithms.EcdsaSha256,
        384 => SecurityAlgorithms.EcdsaSha384,
        521 => SecurityAlgorithms.EcdsaSha512,
        _ => null,
    };
}
