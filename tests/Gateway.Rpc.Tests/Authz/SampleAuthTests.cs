using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests.Authz;

/// <summary>The sample plugin with identities: admin/ping, chat/whoami's roles, chat as the authenticated user, chat/login for anonymous only.</summary>
public sealed class SampleAuthTests
{
    [Fact]
    public async Task Admin_ping_needs_the_admin_role()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var anonymous = await gateway.ConnectAsync();
        await using var bob = await gateway.ConnectAsync(AuthzKit.As("bob", roles: "viewer"));
        await using var ada = await gateway.ConnectAsync(AuthzKit.As("ada", roles: "admin"));

        (await anonymous.CallAsync("admin/ping")).AssertError("UNAUTHENTICATED", 401);
        (await bob.CallAsync("admin/ping")).AssertError("PERMISSION_DENIED", 403);
        Assert.Equal("pong", (await ada.ResultAsync("admin/ping"))!.GetValue<string>());
    }

    [Fact]
    public async Task Chat_uses_the_authenticated_user_and_login_is_for_anonymous_connections_only()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var ada = await gateway.ConnectAsync(AuthzKit.As("ada", roles: "admin,ops"));
        await using var guest = await gateway.ConnectAsync();

        var who = await ada.ResultAsync("chat/whoami");
        Assert.Equal("ada", who.Str("userId"));
        Assert.Equal(["admin", "ops"], who!["roles"]!.AsArray().Select(n => n!.GetValue<string>()).Order());
        Assert.Empty((await guest.ResultAsync("chat/whoami"))!["roles"]!.AsArray());

        var refused = (await ada.CallAsync("chat/login", new { user = "mallory" })).AssertError("FAILED_PRECONDITION", 412);
        Assert.Contains("authenticated as 'ada'", refused.Str("message"));
        Assert.Equal("ada", (await ada.ResultAsync("chat/whoami")).Str("userId"));
        Assert.Equal("grace", (await guest.ResultAsync("chat/login", new { user = "grace" })).Str("userId"));

        await guest.ResultAsync("chat/join", new { room = "lobby" });
        await ada.ResultAsync("chat/send", new { room = "lobby", text = "hi" });
        var message = await guest.NextEventAsync();
        Assert.Equal("ada", message["data"].Str("from"));
        // A direct message reaches the authenticated user by its user id, with no chat/login.
        Assert.Equal(true, (await guest.ResultAsync("chat/dm", new { user = "ada", text = "psst" })).Bool("delivered"));
        Assert.Equal("grace", (await ada.NextEventAsync())["data"].Str("from"));
    }
}
