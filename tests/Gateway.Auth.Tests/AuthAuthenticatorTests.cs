using Gateway.Auth.Tests.Infrastructure;
using Gateway.Server.Auth;

namespace Gateway.Auth.Tests;

/// <summary>IConnectionAuthenticator from a real plugin DLL (tests/plugins/Gateway.AuthTestPlugin), asked in registration order before the JWT check.</summary>
public sealed class AuthAuthenticatorTests
{
    [Fact]
    public async Task A_plugin_authenticator_authenticates_from_a_header_and_the_handler_sees_its_principal()
    {
        await using var gateway = await AuthGateway.StartAsync();
        await using var client = await gateway.ConnectAsync(configure: o => o.SetRequestHeader("X-Api-Key", "key-margaret"));
        var me = (await client.ResultAsync("auth-test/me"))!;
        Assert.True(me.Bool("authenticated"));
        Assert.Equal("ApiKey", me.Str("scheme"));
        Assert.Equal("margaret", me.Str("userId"));
        Assert.Equal(["apikey"], me["roles"]!.AsArray().Select(r => r!.GetValue<string>()).ToArray());
    }

    [Fact]
    public async Task The_authenticator_sees_the_query_and_the_remote_address()
    {
        await using var gateway = await AuthGateway.StartAsync();
        await using var client = await gateway.ConnectAsync(query: "?api_key=key-q");
        Assert.Equal("q", (await client.ResultAsync("auth-test/me"))!.Str("userId"));
    }

    [Fact]
    public async Task Forbid_is_403_with_its_reason_and_fail_is_401()
    {
        await using var gateway = await AuthGateway.StartAsync();
        var banned = await gateway.HandshakeAsync("X-Api-Key: banned\r\n");
        Assert.Equal(403, banned.Status);
        Assert.Equal("PERMISSION_DENIED", banned.ErrorCode);
        Assert.Equal("this API key is suspended", banned.ErrorMessage);
        Assert.Equal(1, gateway.Metrics.AuthFailures(AuthFailureReason.Forbidden));

        var unknown = await gateway.HandshakeAsync("X-Api-Key: guess\r\n");
        Assert.Equal(401, unknown.Status);
        Assert.Equal("UNAUTHENTICATED", unknown.ErrorCode);
        Assert.Equal("unknown API key", unknown.ErrorMessage);
        Assert.Equal(1, gateway.Metrics.AuthFailures(AuthFailureReason.Rejected));
    }

    [Fact]
    public async Task A_decision_stops_the_chain_even_with_a_valid_jwt()
    {
        await using var gateway = await AuthGateway.StartAsync();
        // The API-key scheme is asked first and refuses: the valid JWT is never looked at.
        var answer = await gateway.HandshakeAsync("X-Api-Key: guess\r\n" + AuthGateway.Bearer(Tokens.Create()));
        Assert.Equal(401, answer.Status);
        Assert.Equal(0, gateway.Metrics.Authentications);
    }

    [Fact]
    public async Task Authenticators_are_asked_in_registration_order_then_the_jwt()
    {
        await using var gateway = await AuthGateway.StartAsync();
        // Both plugin schemes match: the first registered (API key) decides.
        await using (var both = await gateway.ConnectAsync(configure: o =>
        {
            o.SetRequestHeader("X-Api-Key", "key-first");
            o.SetRequestHeader("X-Proxy-User", "second");
        }))
        {
            Assert.Equal("first", (await both.ResultAsync("auth-test/me"))!.Str("userId"));
        }
        // Only the second matches.
        await using (var proxied = await gateway.ConnectAsync(configure: o => o.SetRequestHeader("X-Proxy-User", "second")))
        {
            var me = (await proxied.ResultAsync("auth-test/me"))!;
            Assert.Equal("second", me.Str("userId"));
            Assert.Equal("Proxy", me.Str("scheme"));
        }
        // Neither: "not mine" twice, then the JWT.
        await using var jwt = await gateway.ConnectAsync(Tokens.Create(user: "third"));
        Assert.Equal("Bearer", (await jwt.ResultAsync("auth-test/me"))!.Str("scheme"));
    }

    [Fact]
    public async Task An_authenticator_that_throws_is_logged_and_answered_401()
    {
        await using var gateway = await AuthGateway.StartAsync();
        var answer = await gateway.HandshakeAsync("X-Api-Key: throw\r\n");
        Assert.Equal(401, answer.Status);
        Assert.DoesNotContain("key store", answer.Body);
        var line = Assert.Single(gateway.Logs.Entries, e => e.EventId == 603);
        Assert.IsType<InvalidOperationException>(line.Exception);
        Assert.Equal(1, gateway.Metrics.AuthFailures(AuthFailureReason.AuthenticatorError));
        // The gateway goes on serving.
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create()))).Status);
    }

    [Fact]
    public async Task Required_mode_with_only_a_plugin_authenticator_needs_no_jwt_keys()
    {
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:Jwt:Secret"] = null });
        Assert.Equal(101, (await gateway.HandshakeAsync("X-Api-Key: key-only\r\n")).Status);
        Assert.Equal(401, (await gateway.HandshakeAsync()).Status);
        var unverifiable = await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create()));
        Assert.Equal(401, unverifiable.Status);
        Assert.Equal(1, gateway.Metrics.AuthFailures(AuthFailureReason.Unverifiable));
    }
}
