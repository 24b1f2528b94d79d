using Gateway.Tests.Shared;

namespace Gateway.Server.Tests;

/// <summary>
/// The real host runs a plugin's background services: with the sample plugin in its plugins folder, the Ticker
/// publishes ticker.tick to topic "ticker", and a client that $subscribes gets the ticks in order.
/// </summary>
public sealed class HostPluginTests : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gateway-host-plugins-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private string SamplePluginsFolder() => HostProcess.SamplePluginsFolder(_root);

    [Fact]
    public async Task TheSamplePluginsTicker_PublishesToSubscribers_InOrder()
    {
        const int Ticks = 5;
        string plugins = SamplePluginsFolder();
        using var host = HostProcess.Start(
            "--Gateway:Listen:0=127.0.0.1:0",
            "--Gateway:Plugins:Path=" + plugins,
            "--Gateway:Topics:ClientSubscribe:0=ticker",
            "--Samples:Ticker:Interval=00:00:00.100");
        int port = await host.BoundPortAsync(StartTimeout);
        var uri = new Uri($"ws://127.0.0.1:{port}/ws");

        await using var bystander = await RpcClient.ConnectAsync(uri);
        await using var subscriber = await RpcClient.ConnectAsync(uri);
        var subscribed = await subscriber.CallAsync("$subscribe", new { topic = "ticker" });
        Assert.True(subscribed["result"].Bool("subscribed") == true, subscribed.ToJsonString() + "\n" + host.Describe());

        // Ticks (one may have come before the reply), each receive bounded in time.
        var seqs = new List<long>();
        for (int i = 0; i < Ticks; i++)
        {
            var m = await subscriber.NextEventAsync();
            Assert.Equal("ticker.tick", m.Str("event"));
            Assert.Equal("ticker", m.Str("topic"));
            Assert.NotNull(m["data"].Str("time"));
            seqs.Add(m["data"].Long("seq") ?? -1);
        }
        Assert.True(seqs[0] >= 1, string.Join(",", seqs));
        Assert.Equal(Enumerable.Range(0, seqs.Count).Select(i => seqs[0] + i), seqs); // increasing by one: none lost, none repeated

        // The bystander, connected all along but not subscribed, got no tick: the pong is all it ever received.
        Assert.Equal("pong", (await bystander.CallAsync("$ping")).Str("result"));
        Assert.Single(bystander.Received);

        subscriber.Abort();
        bystander.Abort();
        await host.SendSigTermAsync();
        Assert.True(await host.WaitForExitAsync(StartTimeout), "host did not stop within 30 s of SIGTERM\n" + host.Describe());
        Assert.True(host.ExitCode == 0, host.Describe());
        Assert.Contains("Gateway.Samples", host.StdOut);
    }
}
