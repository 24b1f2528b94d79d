using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests;

/// <summary>Gateway:Limits:MaxInflightPerConnection: at the limit the server stops reading the connection; nothing is dropped.</summary>
public sealed class BackpressureTests : IAsyncLifetime
{
    private RpcGateway _gateway = null!;

    public async Task InitializeAsync() =>
        _gateway = await RpcGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Limits:MaxInflightPerConnection"] = "4" });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static async Task<int> WaitStartedAsync(RpcClient observer, int count, int timeoutMs) =>
        (await observer.ResultAsync("test/waitStarted", new { count, timeoutMs }))!.GetValue<int>();

    [Fact]
    public async Task FifthRequestStartsOnlyWhenOneOfTheFirstFourFinished_AndNothingIsDropped()
    {
        await using var client = await _gateway.ConnectAsync();
        await using var observer = await _gateway.ConnectAsync();
        string prefix = Guid.NewGuid().ToString("N")[..8];
        var keys = Enumerable.Range(0, 6).Select(i => $"{prefix}-k{i}").ToArray();
        var ids = new string[6];
        for (int i = 0; i < 6; i++) ids[i] = await client.SendRequestAsync("test/wait", new { key = keys[i] });

        Assert.Equal(4, await WaitStartedAsync(observer, 4, 5000));
        // Bounded check that no fifth one starts while the four run.
        Assert.Equal(4, await WaitStartedAsync(observer, 5, 300));
        Assert.Equal(keys.Take(4), (await observer.ResultAsync("test/startedKeys"))!.AsArray().Select(k => k!.GetValue<string>()));

        await observer.ResultAsync("test/release", new { key = keys[0] });
        Assert.Equal(keys[0], (await client.NextAsync(ids[0])).Str("result"));
        Assert.Equal(5, await WaitStartedAsync(observer, 5, 5000));
        Assert.Equal(5, await WaitStartedAsync(observer, 6, 300));

        // The plugin's event log proves the order: k0 ended before k4 started, k4 started before k5.
        var events = (await observer.ResultAsync("test/events"))!.AsArray().Select(e => e!.GetValue<string>()).ToList();
        Assert.True(events.IndexOf("end:" + keys[0]) < events.IndexOf("start:" + keys[4]), string.Join(", ", events));
        Assert.True(events.IndexOf("start:" + keys[4]) >= 0);
        Assert.DoesNotContain("start:" + keys[5], events);

        for (int i = 1; i < 6; i++) await observer.ResultAsync("test/release", new { key = keys[i] });
        for (int i = 1; i < 6; i++) Assert.Equal(keys[i], (await client.NextAsync(ids[i])).Str("result"));
        Assert.Equal(6, await WaitStartedAsync(observer, 6, 5000));
        events = (await observer.ResultAsync("test/events"))!.AsArray().Select(e => e!.GetValue<string>()).ToList();
        Assert.True(events.IndexOf("start:" + keys[4]) < events.IndexOf("start:" + keys[5]));
        await client.PingAsync();
        Assert.Equal(7, client.Received.Count); // six results and the pong: nothing dropped, nothing doubled
    }

    [Fact]
    public async Task ManyRequestsOverTheLimit_AreAllAnswered()
    {
        await using var client = await _gateway.ConnectAsync();
        var ids = new List<string>();
        for (int i = 0; i < 300; i++) ids.Add(await client.SendRequestAsync("test/echoAsync", new { seq = i }));
        for (int i = 0; i < 300; i++) Assert.Equal(i, (await client.NextAsync(ids[i])).Long("result"));
    }

    [Fact]
    public async Task ClosingWhileAtTheLimit_FiresTheRunningHandlersTokens()
    {
        // Regression test for a bug the suite found (fixed in the server).
        await using var observer = await _gateway.ConnectAsync();
        var client = await _gateway.ConnectAsync();
        string prefix = Guid.NewGuid().ToString("N")[..8];
        var keys = Enumerable.Range(0, 5).Select(i => $"{prefix}-x{i}").ToArray();
        foreach (var key in keys) await client.SendRequestAsync("test/wait", new { key });
        Assert.Equal(4, await WaitStartedAsync(observer, 4, 5000));

        client.Abort();
        await client.DisposeAsync();

        var notCancelled = new List<string>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                bool cancelled = (await observer.ResultAsync("test/wasCancelled", new { key = keys[i], timeoutMs = i == 0 ? 3000 : 100 }))!.GetValue<bool>();
                if (!cancelled) notCancelled.Add(keys[i]);
            }
            bool released = await _gateway.WaitForConnectionCountAsync(1, TimeSpan.FromSeconds(1));
            Assert.True(notCancelled.Count == 0, $"handlers whose token never fired after the client went away: {string.Join(", ", notCancelled)}");
            Assert.True(released, $"the connection was never released: ConnectionCount = {_gateway.Server.ConnectionCount}");
        }
        finally
        {
            // Unstick the server so the gateway can stop quickly.
            foreach (var key in keys) await observer.ResultAsync("test/release", new { key });
        }
    }
}
