using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests;

/// <summary>Many requests on one connection: each answered exactly once with its own input; starts in arrival order.</summary>
public sealed class ConcurrencyTests(StandardGatewayFixture fixture) : IClassFixture<StandardGatewayFixture>
{
    private RpcGateway Gateway => fixture.Gateway;

    [Fact]
    public async Task ThousandConcurrentRequests_EachAnsweredOnceWithItsOwnInput()
    {
        await using var client = await Gateway.ConnectAsync();
        var ids = new string[1000];
        for (int i = 0; i < ids.Length; i++) ids[i] = await client.SendRequestAsync("echo/echo", new { text = "m" + i, number = i }, id: i);
        for (int i = 0; i < ids.Length; i++)
        {
            var reply = await client.NextAsync(ids[i]);
            Assert.Equal("m" + i, reply["result"].Str("text"));
            Assert.Equal(i, reply["result"].Long("number"));
        }
        await client.PingAsync();
        var byId = client.Received.Where(m => m["id"] is not null && m.Str("result") != "pong").GroupBy(m => RpcClient.Key(m["id"])).ToList();
        Assert.Equal(1000, byId.Count);
        Assert.All(byId, g => Assert.Single(g));
    }

    [Fact]
    public async Task ThousandConcurrentAsyncRequests_EachAnsweredOnceWithItsOwnInput()
    {
        // Answered off the read loop, so the replies interleave, and more than the default 256 are in flight at once.
        await using var client = await Gateway.ConnectAsync();
        var ids = new string[1000];
        for (int i = 0; i < ids.Length; i++) ids[i] = await client.SendRequestAsync("test/echoAsync", new { seq = i }, id: "a" + i);
        for (int i = 0; i < ids.Length; i++) Assert.Equal(i, (await client.NextAsync(ids[i])).Long("result"));
        await client.PingAsync();
        Assert.Equal(1001, client.Received.Count);
    }

    [Fact]
    public async Task ConcurrentStreamsAndRequests_KeepEachStreamInOrder()
    {
        await using var client = await Gateway.ConnectAsync();
        var streams = new List<string>();
        for (int s = 0; s < 5; s++) streams.Add(await client.SendRequestAsync("echo/count", new { n = 300 }));
        var requests = new List<string>();
        for (int i = 0; i < 100; i++) requests.Add(await client.SendRequestAsync("test/echoAsync", new { seq = i }));
        foreach (var id in streams)
        {
            var messages = await client.ReadUntilTerminalAsync(id);
            Assert.Equal(301, messages.Count);
            for (int i = 0; i < 300; i++) Assert.Equal(i, messages[i]["data"].Long("i"));
            Assert.True(messages[^1].IsDone());
        }
        for (int i = 0; i < 100; i++) Assert.Equal(i, (await client.NextAsync(requests[i])).Long("result"));
    }

    [Fact]
    public async Task RequestsStartInArrivalOrder()
    {
        await using var client = await Gateway.ConnectAsync();
        long first = Random.Shared.NextInt64(1_000_000, 1_000_000_000);
        var ids = new List<string>();
        for (int i = 0; i < 500; i++) ids.Add(await client.SendRequestAsync("test/order", new { seq = first + i }));
        foreach (var id in ids) await client.NextAsync(id);
        var log = (await client.ResultAsync("test/orderLog"))!.AsArray().Select(n => n!.GetValue<long>())
            .Where(n => n >= first && n < first + 500).ToList();
        Assert.Equal(Enumerable.Range(0, 500).Select(i => first + i), log);
    }
}
