using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests;

/// <summary>The connection closing mid-request fires every running handler's token; the server forgets the connection.</summary>
public sealed class DisconnectTests : IAsyncLifetime
{
    private RpcGateway _gateway = null!;

    public async Task InitializeAsync() => _gateway = await RpcGateway.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static string NewKey(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N");

    private static async Task<bool> AskAsync(RpcClient client, string path, string key, int timeoutMs = 5000) =>
        (await client.ResultAsync(path, new { key, timeoutMs }))!.GetValue<bool>();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ClosingMidRequest_FiresEveryHandlersToken_AndTheConnectionIsGone(bool abort)
    {
        await using var observer = await _gateway.ConnectAsync();
        var client = await _gateway.ConnectAsync();
        string[] waits = [NewKey("w1"), NewKey("w2"), NewKey("w3")];
        string ticks = NewKey("ticks");
        foreach (var key in waits) await client.SendRequestAsync("test/wait", new { key });
        string streamId = await client.SendRequestAsync("test/ticks", new { key = ticks, delayMs = 10 });
        await client.NextAsync(streamId); // the stream is running
        foreach (var key in waits) Assert.True(await AskAsync(observer, "test/wasStarted", key));
        Assert.Equal(2, _gateway.Server.ConnectionCount);

        if (abort) client.Abort();
        await client.DisposeAsync(); // a close handshake when not aborted

        foreach (var key in waits.Append(ticks))
        {
            Assert.True(await AskAsync(observer, "test/wasCancelled", key), $"{key}: the handler's token did not fire");
            Assert.True(await AskAsync(observer, "test/wasEnded", key), $"{key}: the handler did not end");
        }
        Assert.True(await _gateway.WaitForConnectionCountAsync(1), $"connections: {_gateway.Server.ConnectionCount}");
        await observer.DisposeAsync();
        Assert.True(await _gateway.WaitForConnectionCountAsync(0), $"connections: {_gateway.Server.ConnectionCount}");
    }

    [Fact]
    public async Task ClosingMidRequest_FiresTheTokenOfEveryRunningNotification()
    {
        // Regression test for a bug the suite found (fixed in the server).
        await using var observer = await _gateway.ConnectAsync();
        var client = await _gateway.ConnectAsync();
        string[] keys = [NewKey("n1"), NewKey("n2"), NewKey("n3")];
        foreach (var key in keys) await client.SendNotificationAsync("test/waitNote", new { key });
        foreach (var key in keys) Assert.True(await AskAsync(observer, "test/wasStarted", key));

        client.Abort();
        await client.DisposeAsync();

        var notCancelled = new List<string>();
        foreach (var key in keys)
        {
            if (!await AskAsync(observer, "test/wasCancelled", key, 2000)) notCancelled.Add(key[..2]);
        }
        foreach (var key in keys) await observer.ResultAsync("test/release", new { key }); // let any survivor end
        Assert.True(notCancelled.Count == 0, $"notification handlers whose token never fired on disconnect: {string.Join(", ", notCancelled)}");
    }

    [Fact]
    public async Task ClosingMidRequest_FiresTheTokenOfCallsSharingAnId()
    {
        // Regression test for a bug the suite found (fixed in the server).
        await using var observer = await _gateway.ConnectAsync();
        var client = await _gateway.ConnectAsync();
        string first = NewKey("d1"), second = NewKey("d2");
        await client.SendRequestAsync("test/wait", new { key = first }, id: "same");
        await client.SendRequestAsync("test/wait", new { key = second }, id: "same");
        Assert.True(await AskAsync(observer, "test/wasStarted", first));
        Assert.True(await AskAsync(observer, "test/wasStarted", second));

        client.Abort();
        await client.DisposeAsync();

        bool firstCancelled = await AskAsync(observer, "test/wasCancelled", first);
        bool secondCancelled = await AskAsync(observer, "test/wasCancelled", second, 2000);
        await observer.ResultAsync("test/release", new { key = second });
        Assert.True(firstCancelled, "the first call's token did not fire");
        Assert.True(secondCancelled, "the second call with the same id never saw its token fire on disconnect");
    }
}
