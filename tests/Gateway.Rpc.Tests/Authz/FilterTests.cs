using Gateway.Rpc.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Rpc.Tests.Authz;

/// <summary>IRpcFilter: the authz plugin registers an "outer" then an "inner" filter that journal what they see.</summary>
public sealed class FilterTests
{
    private static readonly Dictionary<string, string?> FiltersOn = new() { ["AuthzPlugin:Filters"] = "on", ["Gateway:Topics:ClientSubscribe:0"] = "room:*" };

    private static async Task<List<string>> JournalAsync(RpcClient client, string containing)
    {
        var lines = (await client.ResultAsync("journal/lines"))!.AsArray().Select(n => n!.GetValue<string>());
        return lines.Where(l => l.Contains(containing, StringComparison.Ordinal)).ToList();
    }

    [Fact]
    public async Task Filters_wrap_a_request_in_registration_order_the_first_outermost()
    {
        await using var gateway = await AuthzKit.StartAsync(FiltersOn);
        await using var client = await gateway.ConnectAsync();
        Assert.Equal("hi", (await client.ResultAsync("filtered/echo", "hi"))!.GetValue<string>());
        Assert.Equal(
        [
            "outer>filtered/echo:Request:hi", "inner>filtered/echo:Request:hi", "handler filtered/echo",
            "inner<filtered/echo:ok", "outer<filtered/echo:ok",
        ], await JournalAsync(client, "filtered/echo"));
    }

    [Fact]
    public async Task A_filter_short_circuits_with_an_RpcException_and_the_handler_and_inner_filters_never_run()
    {
        await using var gateway = await AuthzKit.StartAsync(FiltersOn);
        await using var client = await gateway.ConnectAsync();
        var error = (await client.CallAsync("filtered/blocked")).AssertError("FAILED_PRECONDITION", 412);
        Assert.Equal("blocked by the outer filter", error.Str("message"));
        Assert.Equal(["outer>filtered/blocked:Request"], await JournalAsync(client, "filtered/blocked"));
    }

    [Fact]
    public async Task A_filter_that_throws_or_returns_without_next_answers_INTERNAL_and_is_logged()
    {
        var logs = new LogCapture();
        await using var gateway = await AuthzKit.StartAsync(FiltersOn, before: s => s.AddSingleton<ILoggerProvider>(logs));
        await using var client = await gateway.ConnectAsync();

        Assert.Equal("internal error", (await client.CallAsync("filtered/explode")).AssertError("INTERNAL", 500).Str("message"));
        Assert.Equal("internal error", (await client.CallAsync("filtered/swallow")).AssertError("INTERNAL", 500).Str("message"));
        Assert.DoesNotContain("handler filtered/explode", await JournalAsync(client, "handler"));
        Assert.DoesNotContain("handler filtered/swallow", await JournalAsync(client, "handler"));
        Assert.Single(logs.Entries, e => e.Exception?.Message == "the inner filter fails on purpose" && e.Message.Contains("filtered/explode"));
        Assert.Single(logs.Entries, e => e.Exception?.Message.Contains("completed without the handler's result") == true && e.Message.Contains("filtered/swallow"));
        Assert.Equal(2, gateway.Server.Metrics.InternalErrors);
        await client.PingAsync();
    }

    [Fact]
    public async Task Filters_see_the_handlers_RpcException_through_next()
    {
        await using var gateway = await AuthzKit.StartAsync(FiltersOn);
        await using var client = await gateway.ConnectAsync();
        (await client.CallAsync("filtered/notFound")).AssertError("NOT_FOUND", 404);
        Assert.Equal(["outer>filtered/notFound:Request", "inner>filtered/notFound:Request", "inner<filtered/notFound:NotFound", "outer<filtered/notFound:NotFound"],
            await JournalAsync(client, "filtered/notFound"));
    }

    [Fact]
    public async Task Filters_wrap_notifications()
    {
        await using var gateway = await AuthzKit.StartAsync(FiltersOn);
        await using var client = await gateway.ConnectAsync();
        await client.SendNotificationAsync("filtered/note", "n1");
        Assert.True((await client.ResultAsync("journal/waitFor", new { line = "outer<filtered/note:ok" }))!.GetValue<bool>());
        Assert.Equal(["outer>filtered/note:Notification:n1", "inner>filtered/note:Notification:n1", "handler filtered/note n1", "inner<filtered/note:ok", "outer<filtered/note:ok"],
            await JournalAsync(client, "filtered/note"));
        Assert.DoesNotContain(client.Received, m => m.IsError());
    }

    [Fact]
    public async Task Filters_wrap_a_whole_subscription_and_the_builtin_subscribe()
    {
        await using var gateway = await AuthzKit.StartAsync(FiltersOn);
        await using var client = await gateway.ConnectAsync();
        var key = await client.SendRequestAsync("filtered/count", 3);
        var messages = await client.ReadUntilTerminalAsync(key);
        Assert.Equal([0L, 1L, 2L], messages.Where(m => m.IsData()).Select(m => m["data"]!.GetValue<long>()));
        Assert.True(messages[^1].IsDone());
        Assert.True((await client.ResultAsync("journal/waitFor", new { line = "outer<filtered/count:ok" }))!.GetValue<bool>());
        // next completes when the stream has ended.
        Assert.Equal(["outer>filtered/count:Subscription:3", "inner>filtered/count:Subscription:3", "handler filtered/count ended", "inner<filtered/count:ok", "outer<filtered/count:ok"],
            await JournalAsync(client, "filtered/count"));

        Assert.Equal(true, (await client.ResultAsync("$subscribe", new { topic = "room:a" })).Bool("subscribed"));
        Assert.Contains(await JournalAsync(client, "$subscribe"), l => l.StartsWith("outer>$subscribe:Request", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Filters_run_after_authorization()
    {
        await using var gateway = await AuthzKit.StartAsync(FiltersOn);
        await using var anonymous = await gateway.ConnectAsync();
        await using var ada = await gateway.ConnectAsync(AuthzKit.As("ada"));
        (await anonymous.CallAsync("secure/hello")).AssertError("UNAUTHENTICATED", 401);
        await ada.ResultAsync("secure/hello");
        Assert.Equal(["outer>secure/hello:Request", "inner>secure/hello:Request", "inner<secure/hello:ok", "outer<secure/hello:ok"],
            await JournalAsync(ada, "secure/hello"));
    }
}
