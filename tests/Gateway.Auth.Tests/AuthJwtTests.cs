using System.Security.Cryptography;
using System.Text;
using Gateway.Auth.Tests.Infrastructure;
using Gateway.Server.Auth;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Auth.Tests;

/// <summary>The built-in JWT check: each way a token can be wrong, and the key types (HS, RS, PS, ES) it accepts.</summary>
public sealed class AuthJwtTests
{
    private static async Task AssertRefusedAsync(AuthGateway gateway, string token, AuthFailureReason reason, int status = 401)
    {
        var answer = await gateway.HandshakeAsync(AuthGateway.Bearer(token));
        Assert.Equal(status, answer.Status);
        Assert.Equal(status == 401 ? "UNAUTHENTICATED" : "PERMISSION_DENIED", answer.ErrorCode);
        Assert.Equal(1, gateway.Metrics.AuthFailures(reason));
        Assert.DoesNotContain(token, answer.Body);
    }

    [Fact]
    public async Task Expired_token_is_refused()
    {
        await using var gateway = await AuthGateway.StartAsync();
        await AssertRefusedAsync(gateway, Tokens.Create(expires: DateTime.UtcNow.AddSeconds(-5), notBefore: DateTime.UtcNow.AddMinutes(-5)), AuthFailureReason.Expired);
    }

    [Fact]
    public async Task ClockSkew_tolerates_a_recently_expired_token()
    {
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:Jwt:ClockSkew"] = "00:05:00" });
        var answer = await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(expires: DateTime.UtcNow.AddSeconds(-30), notBefore: DateTime.UtcNow.AddMinutes(-5))));
        Assert.Equal(101, answer.Status);
    }

    [Fact]
    public async Task Not_yet_valid_token_is_refused()
    {
        await using var gateway = await AuthGateway.StartAsync();
        await AssertRefusedAsync(gateway, Tokens.Create(notBefore: DateTime.UtcNow.AddMinutes(10), expires: DateTime.UtcNow.AddHours(1)), AuthFailureReason.NotYetValid);
    }

    [Fact]
    public async Task Wrong_issuer_is_refused()
    {
        await using var gateway = await AuthGateway.StartAsync();
        await AssertRefusedAsync(gateway, Tokens.Create(issuer: "https://evil.test"), AuthFailureReason.WrongIssuer);
    }

    [Fact]
    public async Task Wrong_audience_is_refused()
    {
        await using var gateway = await AuthGateway.StartAsync();
        await AssertRefusedAsync(gateway, Tokens.Create(audience: "another-api"), AuthFailureReason.WrongAudience);
    }

    [Fact]
    public async Task Issuer_and_audience_are_not_checked_when_not_configured()
    {
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Auth:Jwt:Issuer"] = null,
            ["Gateway:Auth:Jwt:Audience"] = null,
        });
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(issuer: "https://any.test", audience: "any")))).Status);
    }

    [Fact]
    public async Task Bad_signature_is_refused()
    {
        await using var gateway = await AuthGateway.StartAsync();
        await AssertRefusedAsync(gateway, Tokens.Create(Tokens.Hs256("a-different-secret-of-enough-length-123456")), AuthFailureReason.BadSignature);
    }

    [Fact]
    public async Task A_tampered_payload_is_refused()
    {
        await using var gateway = await AuthGateway.StartAsync();
        string token = Tokens.Create(user: "ada");
        var parts = token.Split('.');
        string payload = Base64UrlEncoder.Decode(parts[1]).Replace("\"ada\"", "\"eve\"");
        string forged = parts[0] + "." + Base64UrlEncoder.Encode(payload) + "." + parts[2];
        await AssertRefusedAsync(gateway, forged, AuthFailureReason.BadSignature);
    }

    [Fact]
    public async Task Alg_none_is_refused()
    {
        await using var gateway = await AuthGateway.StartAsync();
        var answer = await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Unsigned()));
        Assert.Equal(401, answer.Status);
        Assert.Equal(0, gateway.Metrics.Authentications);
        Assert.Equal(1, gateway.Metrics.AuthFailures(AuthFailureReason.BadSignature) + gateway.Metrics.AuthFailures(AuthFailureReason.Malformed));
    }

    [Fact]
    public async Task Algorithm_confusion_hs256_signed_with_the_rsa_public_key_is_refused()
    {
        using var rsa = RSA.Create(2048);
        string pem = Tokens.PublicPem(rsa);
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Auth:Jwt:Secret"] = null,
            ["Gateway:Auth:Jwt:PublicKeyFile"] = AuthGateway.TempFile(pem),
        });
        // The classic attack: the public key is public, so "sign" an HS256 token with its PEM bytes as the HMAC secret.
        var confused = Tokens.Create(new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(pem)), SecurityAlgorithms.HmacSha256));
        var answer = await gateway.HandshakeAsync(AuthGateway.Bearer(confused));
        Assert.Equal(401, answer.Status);
        Assert.Equal(0, gateway.Metrics.Authentications);
        // The same key verifies a real RS256 token.
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(Tokens.Rs256(rsa))))).Status);
    }

    [Fact]
    public async Task Rs256_and_ps256_tokens_verify_with_a_pem_public_key()
    {
        using var rsa = RSA.Create(2048);
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Auth:Jwt:Secret"] = null,
            ["Gateway:Auth:Jwt:PublicKeyFile"] = AuthGateway.TempFile(Tokens.PublicPem(rsa)),
        });
        await using var client = await gateway.ConnectAsync(Tokens.Create(Tokens.Rs256(rsa), user: "rsa-user"));
        Assert.Equal("rsa-user", (await client.ResultAsync("auth-test/me"))!.Str("userId"));
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(Tokens.Rs256(rsa, alg: SecurityAlgorithms.RsaSsaPssSha256))))).Status);
        // HS256 with the configured... nothing: no secret is configured, so an HS token has no key.
        Assert.Equal(401, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create()))).Status);
    }

    [Fact]
    public async Task Es256_token_verifies_with_an_ec_pem_key_and_an_rsa_token_does_not()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var rsa = RSA.Create(2048);
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Auth:Jwt:Secret"] = null,
            ["Gateway:Auth:Jwt:PublicKeyFile"] = AuthGateway.TempFile(Tokens.PublicPem(ec)),
        });
        await using var client = await gateway.ConnectAsync(Tokens.Create(Tokens.Es256(ec), user: "ec-user"));
        Assert.Equal("ec-user", (await client.ResultAsync("auth-test/me"))!.Str("userId"));
        Assert.Equal(401, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(Tokens.Rs256(rsa))))).Status);
    }

    [Fact]
    public async Task Hs384_and_hs512_verify_with_a_secret_long_enough_for_them()
    {
        string secret = new string('k', 64);
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:Jwt:Secret"] = secret });
        var key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret));
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(new SigningCredentials(key, SecurityAlgorithms.HmacSha256))))).Status);
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(new SigningCredentials(key, SecurityAlgorithms.HmacSha384))))).Status);
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(new SigningCredentials(key, SecurityAlgorithms.HmacSha512))))).Status);
    }

    [Fact]
    public async Task Malformed_tokens_are_refused()
    {
        await using var gateway = await AuthGateway.StartAsync();
        foreach (var token in new[] { "abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.!!!.sig", "....." })
            Assert.Equal(401, (await gateway.HandshakeAsync(AuthGateway.Bearer(token))).Status);
        Assert.Equal(4, gateway.Metrics.AuthFailures(AuthFailureReason.Malformed) + gateway.Metrics.AuthFailures(AuthFailureReason.BadSignature) + gateway.Metrics.AuthFailures(AuthFailureReason.Invalid));
        Assert.True(gateway.Metrics.AuthFailures(AuthFailureReason.Malformed) >= 2);
    }

    [Fact]
    public async Task Oversize_token_is_refused_before_parsing()
    {
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:MaxTokenBytes"] = "512" });
        string big = Tokens.Create(extra: new Dictionary<string, object> { ["pad"] = new string('x', 600) });
        await AssertRefusedAsync(gateway, big, AuthFailureReason.Oversize);
    }

    [Fact]
    public async Task Base64_secret_is_decoded()
    {
        var bytes = RandomNumberGenerator.GetBytes(48);
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:Jwt:Secret"] = "base64:" + Convert.ToBase64String(bytes) });
        var token = Tokens.Create(new SigningCredentials(new SymmetricSecurityKey(bytes), SecurityAlgorithms.HmacSha256));
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(token))).Status);
    }
}
