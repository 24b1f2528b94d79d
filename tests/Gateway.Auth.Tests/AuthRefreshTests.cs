using System.Net.WebSockets;
using Gateway.Auth.Tests.Infrastructure;
using Gateway.Server.Auth;

namespace Gateway.Auth.Tests;

/// <summary>Credentials on an open connection: expiry closes with 4401, <c>$auth</c> refreshes them in-band.</summary>
public sealed class AuthRefreshTests
{
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task An_expired_token_closes_the_connection_with_4401()
    {
        await using var gateway = await AuthGateway.StartAsync();
        await using var client = await gateway.ConnectAsync(Tokens.Create(expires: DateTime.UtcNow.AddSeconds(3)));
        await client.PingAsync();
        var status = await client.Ended.WaitAsync(CloseWait);
        Assert.Equal((WebSocketCloseStatus)4401, status);
        Assert.Equal("token expired", client.Socket.CloseStatusDescription);
        Assert.Equal(1, gateway.Metrics.AuthExpiredCloses);
        Assert.Contains(gateway.Logs.Entries, e => e.EventId == 606);
    }

    [Fact]
    public async Task Auth_refresh_keeps_the_connection_past_the_first_tokens_expiry()
    {
        await using var gateway = await AuthGateway.StartAsync();
        string shortLived = Tokens.Create(user: "ada", expires: DateTime.UtcNow.AddSeconds(3));
        await using var refreshed = await gateway.ConnectAsync(shortLived);
        await using var witness = await gateway.ConnectAsync(shortLived);

        var fresh = DateTime.UtcNow.AddHours(1);
        var result = (await refreshed.ResultAsync("$auth", new { token = Tokens.Create(user: "ada", roles: ["admin"], expires: fresh) }))!;
        Assert.Equal("ada", result.Str("userId"));
        Assert.Equal(new DateTimeOffset(fresh).ToUnixTimeSeconds(), DateTimeOffset.Parse(result.Str("expiresAt")!).ToUnixTimeSeconds());

        // The witness, with the same first token and no refresh, is closed when it expires...
        Assert.Equal((WebSocketCloseStatus)4401, await witness.Ended.WaitAsync(CloseWait));
        // ...while the refreshed connection is open and runs with the new token's claims.
        var me = (await refreshed.ResultAsync("auth-test/me"))!;
        Assert.True(me.Bool("isAdmin"));
        Assert.Equal("ada", me.Str("userId"));
        Assert.False(refreshed.Ended.IsCompleted);
        Assert.Equal(1, gateway.Metrics.AuthExpiredCloses);
    }

    [Fact]
    public async Task Auth_with_another_users_token_is_permission_denied_and_changes_nothing()
    {
        await using var gateway = await AuthGateway.StartAsync();
        await using var client = await gateway.ConnectAsync(Tokens.Create(user: "ada"));
        var reply = await client.CallAsync("$auth", new { token = Tokens.Create(user: "mallory") });
        reply.AssertError("PERMISSION_DENIED", 403);
        Assert.Equal("ada", (await client.ResultAsync("auth-test/me"))!.Str("userId"));
        Assert.Equal(1, gateway.Metrics.AuthFailures(AuthFailureReason.UserChanged));
    }

    [Fact]
    public async Task Auth_with_an_invalid_token_is_unauthenticated_and_the_connection_stays()
    {
        await using var gateway = await AuthGateway.StartAsync();
        await using var client = await gateway.ConnectAsync(Tokens.Create(user: "ada"));
        string expired = Tokens.Create(user: "ada", expires: DateTime.UtcNow.AddSeconds(-10), notBefore: DateTime.UtcNow.AddMinutes(-5));
        var reply = await client.CallAsync("$auth", new { token = expired });
        var error = reply.AssertError("UNAUTHENTICATED", 401);
        Assert.DoesNotContain(expired, error.ToJsonString());
        (await client.CallAsync("$auth", new { token = "" })).AssertError("INVALID_ARGUMENT", 400);
        await client.PingAsync();
        Assert.Equal(1, gateway.Metrics.AuthFailures(AuthFailureReason.Expired));
    }

    [Fact]
    public async Task An_anonymous_connection_signs_in_with_auth_in_optional_mode()
    {
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:Mode"] = "Optional" });
        await using var client = await gateway.ConnectAsync();
        Assert.False((await client.ResultAsync("auth-test/me"))!.Bool("authenticated"));
        var result = (await client.ResultAsync("$auth", new { token = Tokens.Create(user: "late") }))!;
        Assert.Equal("late", result.Str("userId"));
        var me = (await client.ResultAsync("auth-test/me"))!;
        Assert.True(me.Bool("authenticated"));
        Assert.Equal("late", me.Str("userId"));
    }

    [Fact]
    public async Task Auth_when_authentication_is_off_is_failed_precondition()
    {
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:Mode"] = "None" });
        await using var client = await gateway.ConnectAsync();
        (await client.CallAsync("$auth", new { token = Tokens.Create() })).AssertError("FAILED_PRECONDITION", 412);
    }

    [Fact]
    public async Task A_plugin_authenticators_expiry_closes_with_4401_too()
    {
        await using var gateway = await AuthGateway.StartAsync();
        await using var client = await gateway.ConnectAsync(configure: o =>
        {
            o.SetRequestHeader("X-Api-Key", "key-temp");
            o.SetRequestHeader("X-Expires-In-Ms", "500");
        });
        Assert.Equal((WebSocketCloseStatus)4401, await client.Ended.WaitAsync(CloseWait));
    }
}
