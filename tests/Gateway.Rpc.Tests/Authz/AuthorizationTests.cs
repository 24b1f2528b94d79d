using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;
using Gateway.Server.Plugins;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Rpc.Tests.Authz;

/// <summary>[Authorize], roles, policies and [AllowAnonymous] on the authz test plugin, over real sockets.</summary>
public sealed class AuthorizationTests
{
    [Fact]
    public async Task An_Authorize_service_answers_UNAUTHENTICATED_without_identity_and_runs_for_an_authenticated_caller()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var anonymous = await gateway.ConnectAsync();
        await using var ada = await gateway.ConnectAsync(AuthzKit.As("ada"));

        var error = (await anonymous.CallAsync("secure/hello")).AssertError("UNAUTHENTICATED", 401);
        Assert.Contains("secure/hello", error.Str("message"));
        Assert.Equal("hello ada", (await ada.ResultAsync("secure/hello"))!.GetValue<string>());
    }

    [Fact]
    public async Task AllowAnonymous_on_a_method_overrides_the_class_Authorize()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var anonymous = await gateway.ConnectAsync();
        Assert.Equal("open", (await anonymous.ResultAsync("secure/open"))!.GetValue<string>());
    }

    [Fact]
    public async Task Roles_allow_any_listed_role_and_deny_others_with_PERMISSION_DENIED()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var anonymous = await gateway.ConnectAsync();
        await using var plain = await gateway.ConnectAsync(AuthzKit.As("bob"));
        await using var ops = await gateway.ConnectAsync(AuthzKit.As("olga", roles: "ops"));
        await using var admin = await gateway.ConnectAsync(AuthzKit.As("ada", roles: "viewer,admin"));

        (await anonymous.CallAsync("secure/ops")).AssertError("UNAUTHENTICATED", 401);
        var denied = (await plain.CallAsync("secure/ops")).AssertError("PERMISSION_DENIED", 403);
        Assert.Contains("admin, ops", denied.Str("message"));
        Assert.Equal("ops ok", (await ops.ResultAsync("secure/ops"))!.GetValue<string>());
        Assert.Equal("ops ok", (await admin.ResultAsync("secure/ops"))!.GetValue<string>());
    }

    [Fact]
    public async Task Authorization_is_checked_before_the_input_is_read()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var anonymous = await gateway.ConnectAsync();
        await using var plain = await gateway.ConnectAsync(AuthzKit.As("bob"));
        await using var admin = await gateway.ConnectAsync(AuthzKit.As("ada", roles: "admin"));
        const string bad = "not a point";

        // Without the right to call, a malformed input must not be read: the auth error comes back, never INVALID_ARGUMENT.
        (await anonymous.CallAsync("secure/swap", bad)).AssertError("UNAUTHENTICATED", 401);
        (await plain.CallAsync("secure/swap", bad)).AssertError("PERMISSION_DENIED", 403);
        (await admin.CallAsync("secure/swap", bad)).AssertError("INVALID_ARGUMENT", 400);
        var swapped = await admin.ResultAsync("secure/swap", new { x = 1, y = 2 });
        Assert.Equal(2, swapped.Long("x"));
        Assert.Equal(1, swapped.Long("y"));
    }

    [Fact]
    public async Task A_policy_allows_or_denies_with_PERMISSION_DENIED_and_anonymous_callers_get_UNAUTHENTICATED()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var anonymous = await gateway.ConnectAsync();
        await using var other = await gateway.ConnectAsync(AuthzKit.As("bob", tenant: "globex"));
        await using var acme = await gateway.ConnectAsync(AuthzKit.As("ada", tenant: "acme"));

        (await anonymous.CallAsync("secure/tenant")).AssertError("UNAUTHENTICATED", 401);
        var denied = (await other.CallAsync("secure/tenant")).AssertError("PERMISSION_DENIED", 403);
        Assert.Contains("tenant-acme", denied.Str("message"));
        Assert.Equal("tenant ok", (await acme.ResultAsync("secure/tenant"))!.GetValue<string>());
    }

    [Fact]
    public async Task Roles_and_a_policy_on_one_procedure_must_both_pass()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var adminOnly = await gateway.ConnectAsync(AuthzKit.As("ada", roles: "admin", tenant: "globex"));
        await using var tenantOnly = await gateway.ConnectAsync(AuthzKit.As("bob", tenant: "acme"));
        await using var both = await gateway.ConnectAsync(AuthzKit.As("cy", roles: "admin", tenant: "acme"));

        Assert.Contains("tenant-acme", (await adminOnly.CallAsync("secure/both")).AssertError("PERMISSION_DENIED", 403).Str("message"));
        Assert.Contains("admin", (await tenantOnly.CallAsync("secure/both")).AssertError("PERMISSION_DENIED", 403).Str("message"));
        Assert.Equal("both ok", (await both.ResultAsync("secure/both"))!.GetValue<string>());
    }

    [Fact]
    public async Task An_asynchronous_policy_keeps_the_order_of_the_calls_sent_after_it()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var acme = await gateway.ConnectAsync(AuthzKit.As("ada", tenant: "acme"));
        await using var other = await gateway.ConnectAsync(AuthzKit.As("bob", tenant: "globex"));

        // Pipelined: the slow policy holds the read loop, so secure/hello starts (and is answered) after tenantSlow 1.
        var first = await acme.SendRequestAsync("secure/tenantSlow", 1);
        var hello = await acme.SendRequestAsync("secure/hello");
        var second = await acme.SendRequestAsync("secure/tenantSlow", 2);
        foreach (var key in new[] { first, hello, second }) await acme.ReadUntilTerminalAsync(key);
        var order = acme.Received.Select(m => m["result"]?.GetValue<string>()).ToList();
        Assert.Equal(["slow 1", "hello ada", "slow 2"], order);

        (await other.CallAsync("secure/tenantSlow", 3)).AssertError("PERMISSION_DENIED", 403);
    }

    [Fact]
    public async Task A_failing_policy_answers_its_RpcException_or_INTERNAL_and_is_logged_with_the_connection_id()
    {
        var logs = new LogCapture();
        await using var gateway = await AuthzKit.StartAsync(before: s => s.AddSingleton<ILoggerProvider>(logs));
        await using var closed = await gateway.ConnectAsync(AuthzKit.As("ada", tenant: "closed"));
        await using var plain = await gateway.ConnectAsync(AuthzKit.As("bob"));

        Assert.Equal("tenant is closed", (await closed.CallAsync("secure/throwing")).AssertError("FAILED_PRECONDITION", 412).Str("message"));
        Assert.Equal("internal error", (await plain.CallAsync("secure/throwing")).AssertError("INTERNAL", 500).Str("message"));
        var line = Assert.Single(logs.With("authorization policy for secure/throwing failed"));
        Assert.Equal(641, line.EventId);
        Assert.Matches(@"^\[\d+\]", line.Message);
        Assert.Equal(1, gateway.Server.Metrics.InternalErrors);
        // The connection is unharmed.
        Assert.Equal("hello bob", (await plain.ResultAsync("secure/hello"))!.GetValue<string>());
    }

    [Fact]
    public async Task A_denied_notification_is_dropped_and_an_allowed_one_runs()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var plain = await gateway.ConnectAsync(AuthzKit.As("bob"));
        await using var admin = await gateway.ConnectAsync(AuthzKit.As("ada", roles: "admin"));

        await plain.SendNotificationAsync("secure/note", "from bob");
        await plain.PingAsync(); // handled in order: the note was dispatched (and refused) before the pong
        await admin.SendNotificationAsync("secure/note", "from ada");
        Assert.True((await admin.ResultAsync("journal/waitFor", new { line = "note from ada" }))!.GetValue<bool>());
        var lines = (await admin.ResultAsync("journal/lines"))!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        Assert.DoesNotContain("note from bob", lines);
        Assert.DoesNotContain(plain.Received, m => m.IsError());
    }

    [Fact]
    public async Task A_guarded_subscription_refuses_before_streaming_and_streams_for_an_allowed_caller()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var anonymous = await gateway.ConnectAsync();
        await using var admin = await gateway.ConnectAsync(AuthzKit.As("ada", roles: "admin"));

        (await anonymous.CallAsync("secure/ticks", 3)).AssertError("UNAUTHENTICATED", 401);
        var key = await admin.SendRequestAsync("secure/ticks", 3);
        var messages = await admin.ReadUntilTerminalAsync(key);
        Assert.Equal([0L, 1L, 2L], messages.Where(m => m.IsData()).Select(m => m["data"]!.GetValue<long>()));
        Assert.True(messages[^1].IsDone());
    }

    [Fact]
    public async Task Topic_policies_see_the_user_of_the_subscribing_connection()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var staff = await gateway.ConnectAsync(AuthzKit.As("ada", roles: "staff"));
        await using var plain = await gateway.ConnectAsync(AuthzKit.As("bob"));

        Assert.Equal(true, (await staff.ResultAsync("$subscribe", new { topic = "staff:news" })).Bool("subscribed"));
        (await plain.CallAsync("$subscribe", new { topic = "staff:news" })).AssertError("PERMISSION_DENIED", 403);
    }

    [Fact]
    public async Task A_policy_name_no_plugin_registered_stops_the_gateway_at_startup()
    {
        var ex = await Assert.ThrowsAsync<PluginLoadException>(() => AuthzKit.StartAsync(new Dictionary<string, string?> { ["AuthzPlugin:SkipPolicies"] = "true" }));
        Assert.Contains("names no policy", ex.Message);
        Assert.Contains("Gateway.AuthzPlugin.SecureService", ex.Message);
    }

    [Fact]
    public async Task Per_procedure_calls_by_code_and_durations_are_on_metrics_with_unknown_paths_under_one_label()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var anonymous = await gateway.ConnectAsync();
        await using var ada = await gateway.ConnectAsync(AuthzKit.As("ada"));

        await anonymous.ResultAsync("echo/echo", new { text = "1" });
        await anonymous.ResultAsync("echo/echo", new { text = "2" });
        (await anonymous.CallAsync("echo/fail", new { code = "NOT_FOUND" })).AssertError("NOT_FOUND", 404);
        (await anonymous.CallAsync("secure/hello")).AssertError("UNAUTHENTICATED", 401);
        await ada.ResultAsync("secure/hello");
        (await anonymous.CallAsync("nope/first")).AssertError("NOT_FOUND", 404);
        (await anonymous.CallAsync("nope/second")).AssertError("NOT_FOUND", 404);
        await anonymous.PingAsync();

        string text = await AuthzKit.ScrapeAsync(gateway);
        Assert.Contains("gateway_rpc_calls_total{procedure=\"echo/echo\",code=\"OK\"} 2\n", text);
        Assert.Contains("gateway_rpc_calls_total{procedure=\"echo/fail\",code=\"NOT_FOUND\"} 1\n", text);
        Assert.Contains("gateway_rpc_calls_total{procedure=\"secure/hello\",code=\"UNAUTHENTICATED\"} 1\n", text);
        Assert.Contains("gateway_rpc_calls_total{procedure=\"secure/hello\",code=\"OK\"} 1\n", text);
        Assert.Contains("gateway_rpc_calls_total{procedure=\"(unknown)\",code=\"NOT_FOUND\"} 2\n", text);
        Assert.Contains("gateway_rpc_calls_total{procedure=\"$ping\",code=\"OK\"} 1\n", text);
        Assert.DoesNotContain("nope/", text);
        Assert.Contains("# TYPE gateway_rpc_duration_seconds histogram\n", text);
        Assert.Contains("gateway_rpc_duration_seconds_count{procedure=\"echo/echo\"} 2\n", text);
        Assert.Contains("gateway_rpc_duration_seconds_bucket{procedure=\"echo/echo\",le=\"+Inf\"} 2\n", text);
        Assert.Contains("gateway_rpc_duration_seconds_count{procedure=\"secure/hello\"} 1\n", text); // refusals are counted, not timed
        Assert.Matches("gateway_rpc_duration_seconds_sum\\{procedure=\"echo/echo\"\\} [0-9.eE-]+\n", text);
    }
}
