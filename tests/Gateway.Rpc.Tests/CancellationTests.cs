using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests;

/// <summary>Cancel (<c>{"id","cancel":true}</c>): the handler's token fires and nothing more is sent for that id.</summary>
public sealed class CancellationTests(StandardGatewayFixture fixture) : IClassFixture<StandardGatewayFixture>
{
    private RpcGateway Gateway => fixture.Gateway;

    private static string NewKey(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N");

    private static async Task<bool> AskAsync(RpcClient client, string path, string key, int timeoutMs = 5000)
    {
        var result = await client.ResultAsync(path, new { key, timeoutMs });
        return result!.GetValue<bool>();
    }

    [Fact]
    public async Task CancelRunningRequest_FiresItsTokenAndNothingIsSentForIt()
    {
        await using var client = await Gateway.ConnectAsync();
        await using var observer = await Gateway.ConnectAsync();
        string key = NewKey("wait");
        string id = await client.SendRequestAsync("test/wait", new { key });
        Assert.True(await AskAsync(observer, "test/wasStarted", key));
        Assert.False(await AskAsync(observer, "test/wasCancelled", key, 50));

        await client.SendCancelAsync(id);

        Assert.True(await AskAsync(observer, "test/wasCancelled", key), "the handler's CancellationToken did not fire");
        Assert.True(await AskAsync(client, "test/wasEnded", key), "the handler did not end");
        await client.PingAsync();
        Assert.Empty(client.ReceivedFor(id));
        // A second cancel of the same (finished) id is ignored.
        await client.SendCancelAsync(id);
        await client.PingAsync();
        Assert.Empty(client.ReceivedFor(id));
    }

    [Fact]
    public async Task CancelOneRequest_LeavesTheOthersRunning()
    {
        await using var client = await Gateway.ConnectAsync();
        string a = NewKey("a"), b = NewKey("b");
        string idA = await client.SendRequestAsync("test/wait", new { key = a });
        string idB = await client.SendRequestAsync("test/wait", new { key = b });
        Assert.True(await AskAsync(client, "test/wasStarted", a));
        Assert.True(await AskAsync(client, "test/wasStarted", b));

        await client.SendCancelAsync(idA);
        Assert.True(await AskAsync(client, "test/wasCancelled", a));
        Assert.False(await AskAsync(client, "test/wasCancelled", b, 100));

        Assert.True((await client.ResultAsync("test/release", new { key = b }))!.GetValue<bool>());
        var reply = await client.NextAsync(idB);
        Assert.Equal(b, reply.Str("result"));
        await client.PingAsync();
        Assert.Empty(client.ReceivedFor(idA));
    }

    [Fact]
    public async Task CancelRunningStream_StopsItemsWithoutDone_AndTheHandlerSeesIt()
    {
        await using var client = await Gateway.ConnectAsync();
        string key = NewKey("ticks");
        string id = await client.SendRequestAsync("test/ticks", new { key, delayMs = 5 });
        for (int i = 0; i < 3; i++)
        {
            var item = await client.NextAsync(id);
            Assert.Equal(i, item["data"]!.GetValue<int>());
        }

        await client.SendCancelAsync(id);

        Assert.True(await AskAsync(client, "test/wasCancelled", key), "the stream's CancellationToken did not fire");
        Assert.True(await AskAsync(client, "test/wasEnded", key), "the iterator did not end");
        await client.PingAsync();
        int count = client.ReceivedFor(id).Count;
        // Give a still-running stream every chance to show itself: 200 ms of server work on this connection.
        await client.ResultAsync("echo/slow", new { delayMs = 200 });
        var all = client.ReceivedFor(id);
        Assert.Equal(count, all.Count);
        Assert.All(all, m => Assert.True(m.IsData(), m.ToJsonString()));
        Assert.DoesNotContain(all, m => m.IsDone() || m.IsError());
    }

    [Fact]
    public async Task CancelSampleCountStream_StopsItemsWithoutDone()
    {
        await using var client = await Gateway.ConnectAsync();
        string id = await client.SendRequestAsync("echo/count", new { n = 100_000, delayMs = 10 });
        for (int i = 0; i < 3; i++) Assert.Equal(i, (await client.NextAsync(id))["data"].Long("i"));

        await client.SendCancelAsync(id);
        await client.PingAsync();
        int count = client.ReceivedFor(id).Count;
        await client.ResultAsync("echo/slow", new { delayMs = 200 });
        var all = client.ReceivedFor(id);
        Assert.True(all.Count <= count + 1, $"items kept coming after the cancel: {count} then {all.Count}");
        Assert.DoesNotContain(all, m => m.IsDone() || m.IsError());
        Assert.True(all.Count < 50, $"{all.Count} items for a 10 ms stream cancelled after 3");
    }

    [Fact]
    public async Task CancelSlowRequest_NoResultAfterIt_AndNoProgressBeyondOneAlreadyInFlight()
    {
        await using var client = await Gateway.ConnectAsync();
        string id = await client.SendRequestAsync("echo/slow", new { delayMs = 5000 });
        var first = await client.NextAsync(id);
        Assert.True(first.IsProgress());
        await client.SendCancelAsync(id);
        await client.PingAsync();
        int count = client.ReceivedFor(id).Count;
        await client.ResultAsync("echo/slow", new { delayMs = 250 });
        var all = client.ReceivedFor(id);
        // One progress report may have passed the handler's "still wanted?" check just before the cancel was
        // processed and reach the socket after the ping's reply; nothing later than that.
        Assert.True(all.Count <= count + 1, $"progress kept coming after the cancel: {count} then {all.Count}");
        Assert.All(all, m => Assert.True(m.IsProgress(), m.ToJsonString()));
    }

    [Fact]
    public async Task CancelOfAnUnknownId_IsIgnored()
    {
        await using var client = await Gateway.ConnectAsync();
        await client.SendTextAsync("""{"id":"never-sent","cancel":true}""");
        await client.SendTextAsync("""{"id":123456,"cancel":true}""");
        string done = await client.SendRequestAsync("echo/echo", new { text = "finished" });
        await client.NextAsync(done);
        await client.SendCancelAsync(done); // already answered
        string ping = await client.SendRequestAsync("$ping");
        Assert.Equal(done, RpcClient.Key((await client.NextAnyAsync())["id"]));
        Assert.Equal(ping, RpcClient.Key((await client.NextAnyAsync())["id"]));
        Assert.Equal(2, client.Received.Count);
    }

    [Fact]
    public async Task CancelById_MatchesTheIdExactly_IntegerVersusString()
    {
        await using var client = await Gateway.ConnectAsync();
        string key = NewKey("intid");
        await client.SendTextAsync($$$"""{"id":77,"path":"test/wait","input":{"key":"{{{key}}}"}}""");
        Assert.True(await AskAsync(client, "test/wasStarted", key));
        await client.SendTextAsync("""{"id":"77","cancel":true}""");
        Assert.False(await AskAsync(client, "test/wasCancelled", key, 100), "a string id cancelled the call with the integer id");
        await client.SendTextAsync("""{"id":77,"cancel":true}""");
        Assert.True(await AskAsync(client, "test/wasCancelled", key));
        await client.PingAsync();
        Assert.Empty(client.ReceivedFor("77"));
    }
}
