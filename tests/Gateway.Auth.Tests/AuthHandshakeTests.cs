using Gateway.Auth.Tests.Infrastructure;
using Gateway.Server.Auth;

namespace Gateway.Auth.Tests;

/// <summary>Where credentials come from (first match wins), the three modes, and the 401/403 answers.</summary>
public sealed class AuthHandshakeTests
{
    private static async Task<System.Text.Json.Nodes.JsonNode> MeAsync(RpcClient client) => (await client.ResultAsync("auth-test/me"))!;

    [Fact]
    public async Task Required_mode_without_credentials_is_401_with_a_json_body_and_no_upgrade()
    {
        await using var gateway = await AuthGateway.StartAsync();
        var answer = await gateway.HandshakeAsync();
        Assert.Equal(401, answer.Status);
        Assert.Contains("Content-Type: application/json", answer.Head);
        Assert.Contains("WWW-Authenticate: Bearer", answer.Head);
        Assert.DoesNotContain("Upgrade: websocket", answer.Head);
        Assert.Equal("UNAUTHENTICATED", answer.ErrorCode);
        Assert.False(string.IsNullOrEmpty(answer.ErrorMessage));
        Assert.Equal(1, gateway.Metrics.AuthFailures(AuthFailureReason.Missing));
        Assert.Equal(0, gateway.Metrics.Authentications);
    }

    [Fact]
    public async Task Authorization_header_authenticates_and_the_handler_sees_user_id_and_roles()
    {
        await using var gateway = await AuthGateway.StartAsync();
        await using var client = await gateway.ConnectAsync(Tokens.Create(roles: ["admin", "ops"]));
        var me = await MeAsync(client);
        Assert.True(me.Bool("authenticated"));
        Assert.Equal("Bearer", me.Str("scheme"));
        Assert.Equal("ada", me.Str("userId"));
        Assert.Equal("ada", me.Str("name"));
        Assert.True(me.Bool("isAdmin"));
        Assert.Equal(["admin", "ops"], me["roles"]!.AsArray().Select(r => r!.GetValue<string>()).Order().ToArray());
    }

    [Fact]
    public async Task Bearer_subprotocol_authenticates_and_is_never_echoed_back()
    {
        await using var gateway = await AuthGateway.StartAsync();
        string token = Tokens.Create(user: "grace");
        var answer = await gateway.HandshakeAsync(subprotocols: "gateway.v1.json, bearer." + token);
        Assert.Equal(101, answer.Status);
        Assert.Contains("Sec-WebSocket-Protocol: gateway.v1.json\r\n", answer.Head + "\r\n");
        Assert.DoesNotContain("bearer", answer.Head, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(token, answer.Head);

        await using var client = await RpcClient.ConnectAsync(gateway.Uri(), o => o.AddSubProtocol("bearer." + token));
        Assert.Equal("gateway.v1.json", client.Socket.SubProtocol);
        Assert.Equal("grace", (await MeAsync(client)).Str("userId"));
    }

    [Fact]
    public async Task Query_parameter_authenticates_under_its_configured_name_and_can_be_turned_off()
    {
        await using (var gateway = await AuthGateway.StartAsync())
        {
            await using var client = await gateway.ConnectAsync(query: "?x=1&access_token=" + Tokens.Create(user: "linus"));
            Assert.Equal("linus", (await MeAsync(client)).Str("userId"));
        }
        await using (var renamed = await AuthGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:QueryParameter"] = "jwt" }))
        {
            Assert.Equal(401, (await renamed.HandshakeAsync(query: "?access_token=" + Tokens.Create())).Status);
            await using var client = await renamed.ConnectAsync(query: "?jwt=" + Tokens.Create(user: "linus"));
            Assert.Equal("linus", (await MeAsync(client)).Str("userId"));
        }
        await using (var off = await AuthGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:QueryParameter"] = "" }))
        {
            var answer = await off.HandshakeAsync(query: "?access_token=" + Tokens.Create());
            Assert.Equal(401, answer.Status);
            Assert.Equal(1, off.Metrics.AuthFailures(AuthFailureReason.Missing));
        }
    }

    [Fact]
    public async Task Cookie_is_read_only_when_configured()
    {
        string token = Tokens.Create(user: "barbara");
        await using (var off = await AuthGateway.StartAsync())
        {
            Assert.Equal(401, (await off.HandshakeAsync($"Cookie: gw_token={token}\r\n")).Status);
        }
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:Cookie"] = "gw_token" });
        Assert.Equal(101, (await gateway.HandshakeAsync($"Cookie: theme=dark; gw_token={token}; lang=en\r\n")).Status);
        await using var client = await gateway.ConnectAsync(configure: o => o.SetRequestHeader("Cookie", $"gw_token={token}"));
        Assert.Equal("barbara", (await MeAsync(client)).Str("userId"));
    }

    [Fact]
    public async Task First_source_wins_header_before_subprotocol_before_query()
    {
        await using var gateway = await AuthGateway.StartAsync();
        string bad = Tokens.Create(Tokens.Hs256("another-secret-another-secret-0123456789"));
        string good = Tokens.Create(user: "first");
        // Header (bad) wins over a good query token: refused.
        Assert.Equal(401, (await gateway.HandshakeAsync(AuthGateway.Bearer(bad), query: "?access_token=" + good)).Status);
        // Subprotocol (good) wins over a bad query token: accepted.
        Assert.Equal(101, (await gateway.HandshakeAsync(query: "?access_token=" + bad, subprotocols: "gateway.v1.json, bearer." + good)).Status);
        // Header (good) wins over a bad subprotocol token.
        Assert.Equal(101, (await gateway.HandshakeAsync(AuthGateway.Bearer(good), subprotocols: "bearer." + bad + ", gateway.v1.json")).Status);
    }

    [Fact]
    public async Task None_mode_reads_no_credentials_and_everyone_is_anonymous()
    {
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:Mode"] = "None" });
        await using var plain = await gateway.ConnectAsync();
        Assert.False((await MeAsync(plain)).Bool("authenticated"));
        // Even a garbage token is not looked at: authentication is off.
        await using var withGarbage = await gateway.ConnectAsync("not-a-token");
        var me = await MeAsync(withGarbage);
        Assert.False(me.Bool("authenticated"));
        Assert.Null(me.Str("userId"));
        Assert.Equal(0, gateway.Metrics.AuthFailures(AuthFailureReason.Malformed));
    }

    [Fact]
    public async Task Optional_mode_admits_anonymous_but_refuses_an_invalid_token()
    {
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:Mode"] = "Optional" });
        await using var anonymous = await gateway.ConnectAsync();
        var me = await MeAsync(anonymous);
        Assert.False(me.Bool("authenticated"));
        Assert.Null(me.Str("userId"));

        var expired = await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(expires: DateTime.UtcNow.AddMinutes(-5), notBefore: DateTime.UtcNow.AddMinutes(-10))));
        Assert.Equal(401, expired.Status);
        Assert.Equal("UNAUTHENTICATED", expired.ErrorCode);

        await using var authenticated = await gateway.ConnectAsync(Tokens.Create(user: "optional"));
        Assert.Equal("optional", (await MeAsync(authenticated)).Str("userId"));
    }

    [Fact]
    public async Task A_valid_token_without_the_user_id_claim_is_403_permission_denied()
    {
        await using var gateway = await AuthGateway.StartAsync();
        var answer = await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create(user: null)));
        Assert.Equal(403, answer.Status);
        Assert.Equal("PERMISSION_DENIED", answer.ErrorCode);
        Assert.Contains("'sub'", answer.ErrorMessage);
        Assert.Equal(1, gateway.Metrics.AuthFailures(AuthFailureReason.NoUserId));
    }

    [Fact]
    public async Task UserIdClaim_and_RoleClaim_are_configurable()
    {
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Auth:Jwt:UserIdClaim"] = "email",
            ["Gateway:Auth:Jwt:RoleClaim"] = "groups",
        });
        string token = Tokens.Create(user: "ignored", roles: ["admin", "dev"], roleClaim: "groups", extra: new Dictionary<string, object> { ["email"] = "ada@example.com" });
        await using var client = await gateway.ConnectAsync(token);
        var me = await MeAsync(client);
        Assert.Equal("ada@example.com", me.Str("userId"));
        Assert.True(me.Bool("isAdmin"));
    }
}
