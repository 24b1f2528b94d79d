using System.Security.Cryptography;
using Gateway.Auth.Tests.Infrastructure;
using Gateway.Server.Auth;

namespace Gateway.Auth.Tests;

/// <summary>Keys from a JWKS file and from a JWKS URL (an in-test HTTP server on 127.0.0.1): rotation, rate-limited refetch, failures.</summary>
public sealed class AuthJwksTests
{
    private static Dictionary<string, string?> Jwks(string key, string value, string refresh = "01:00:00") => new()
    {
        ["Gateway:Auth:Jwt:Secret"] = null,
        [key] = value,
        ["Gateway:Auth:Jwt:RefreshInterval"] = refresh,
        // These tests send many unknown-kid tokens on purpose: the per-address failure limit would answer 429 first.
        ["Gateway:Auth:FailureLimit"] = "0",
    };

    [Fact]
    public async Task A_jwks_file_gives_rsa_and_ec_keys_by_kid()
    {
        using var rsa = RSA.Create(2048);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var stranger = RSA.Create(2048);
        string file = AuthGateway.TempFile(Tokens.Jwks(Tokens.RsaJwk(rsa, "r1"), Tokens.EcJwk(ec, "e1")), ".json");
        await using var gateway = await AuthGateway.StartAsync(Jwks("Gateway:Auth:Jwt:JwksFile", file));
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(Tokens.Rs256(rsa, "r1"))))).Status);
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(Tokens.Es256(ec, "e1"))))).Status);
        Assert.Equal(401, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(Tokens.Rs256(stranger, "r1"))))).Status);
        Assert.Equal(401, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(Tokens.Rs256(stranger, "zz"))))).Status);
        Assert.Equal(1, gateway.Metrics.AuthFailures(AuthFailureReason.UnknownKey));
        Assert.Equal(1, gateway.Metrics.AuthFailures(AuthFailureReason.BadSignature));
    }

    [Fact]
    public async Task A_jwks_url_is_fetched_once_and_cached()
    {
        using var rsa = RSA.Create(2048);
        await using var server = new JwksServer(Tokens.Jwks(Tokens.RsaJwk(rsa, "k1")));
        await using var gateway = await AuthGateway.StartAsync(Jwks("Gateway:Auth:Jwt:JwksUrl", server.Url));
        for (int i = 0; i < 3; i++)
        {
            await using var client = await gateway.ConnectAsync(Tokens.Create(Tokens.Rs256(rsa, "k1"), user: "u" + i));
            Assert.Equal("u" + i, (await client.ResultAsync("auth-test/me"))!.Str("userId"));
        }
        Assert.Equal(1, server.Requests);
        Assert.Equal(1, gateway.Metrics.JwksFetches);
    }

    [Fact]
    public async Task A_new_kid_refetches_the_set_at_most_once_per_refresh_interval()
    {
        using var oldKey = RSA.Create(2048);
        using var newKey = RSA.Create(2048);
        await using var server = new JwksServer(Tokens.Jwks(Tokens.RsaJwk(oldKey, "old")));
        await using var gateway = await AuthGateway.StartAsync(Jwks("Gateway:Auth:Jwt:JwksUrl", server.Url, refresh: "00:00:01"));
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(Tokens.Rs256(oldKey, "old"))))).Status);
        Assert.Equal(1, server.Requests);

        // The provider rotates. Tokens with the new kid arrive at once and keep arriving: the set is fetched again only
        // when RefreshInterval has passed since the last fetch, then the new key is known.
        server.Serve(Tokens.Jwks(Tokens.RsaJwk(oldKey, "old"), Tokens.RsaJwk(newKey, "new")));
        string rotated = Tokens.Create(Tokens.Rs256(newKey, "new"));
        int attempts = 0;
        Assert.True(await Waits.WaitUntilAsync(async () =>
        {
            attempts++;
            return (await gateway.HandshakeAsync(AuthGateway.Bearer(rotated))).Status == 101;
        }));
        Assert.Equal(2, server.Requests);
        Assert.True(attempts >= 1);
        Assert.Equal(attempts - 1, gateway.Metrics.AuthFailures(AuthFailureReason.UnknownKey));

        // A flood of random kids right after (signed by a key the provider never published): refused, and no fetch
        // (the interval has not passed again).
        using var stranger = RSA.Create(2048);
        for (int i = 0; i < 5; i++)
            Assert.Equal(401, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(Tokens.Rs256(stranger, "random" + i))))).Status);
        Assert.True(server.Requests <= 3, $"{server.Requests} fetches");
    }

    [Fact]
    public async Task A_failed_fetch_keeps_the_last_good_keys_and_is_counted()
    {
        using var key = RSA.Create(2048);
        await using var server = new JwksServer(Tokens.Jwks(Tokens.RsaJwk(key, "k1")));
        await using var gateway = await AuthGateway.StartAsync(Jwks("Gateway:Auth:Jwt:JwksUrl", server.Url, refresh: "00:00:01"));
        string good = Tokens.Create(Tokens.Rs256(key, "k1"));
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(good))).Status);

        server.Failing = true;
        string unknown = Tokens.Create(Tokens.Rs256(key, "unknown"));
        Assert.True(await Waits.WaitUntilAsync(async () =>
        {
            await gateway.HandshakeAsync(AuthGateway.Bearer(unknown));
            return gateway.Metrics.JwksFetchErrors >= 1;
        }));
        Assert.Contains(gateway.Logs.Entries, e => e.EventId == 605 && e.Message.Contains("HTTP 500"));
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(good))).Status);
        Assert.Contains("gateway_auth_jwks_fetch_errors_total 1", await gateway.ScrapeAsync());
    }

    [Fact]
    public async Task A_provider_down_at_start_does_not_stop_the_gateway_and_is_retried()
    {
        using var key = RSA.Create(2048);
        await using var server = new JwksServer(Tokens.Jwks(Tokens.RsaJwk(key, "k1"))) { Failing = true };
        await using var gateway = await AuthGateway.StartAsync(Jwks("Gateway:Auth:Jwt:JwksUrl", server.Url, refresh: "00:00:01"));
        string token = Tokens.Create(Tokens.Rs256(key, "k1"));
        Assert.Equal(401, (await gateway.HandshakeAsync(AuthGateway.Bearer(token))).Status);
        Assert.True(gateway.Metrics.JwksFetchErrors >= 1);
        server.Failing = false;
        Assert.True(await Waits.WaitUntilAsync(async () => (await gateway.HandshakeAsync(AuthGateway.Bearer(token))).Status == 101));
    }
}
