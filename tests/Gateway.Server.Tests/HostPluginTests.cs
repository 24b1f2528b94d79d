using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using static Gateway.Server.Tests.TestHelpers;

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

    private static Task<int> BoundPortAsync(HostProcess host) => host.BoundPortAsync(StartTimeout);

    private static async Task SendAsync(ClientWebSocket ws, string text)
    {
        using var cts = new CancellationTokenSource(DefaultTimeout);
        await ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, cts.Token);
    }

    private static async Task<JsonElement> ReceiveJsonAsync(ClientWebSocket ws)
    {
        var (type, payload) = await ReceiveMessageAsync(ws);
        Assert.Equal(WebSocketMessageType.Text, type);
        return JsonDocument.Parse(payload).RootElement.Clone();
    }

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
        int port = await BoundPortAsync(host);
        var uri = new Uri($"ws://127.0.0.1:{port}/ws");

        using var bystander = await ConnectAsync(uri, o => o.AddSubProtocol("gateway.v1.json"));
        using var subscriber = await ConnectAsync(uri, o => o.AddSubProtocol("gateway.v1.json"));
        await SendAsync(subscriber, """{"id":1,"path":"$subscribe","input":{"topic":"ticker"}}""");

        // The reply, and ticks (one may come before the reply); bounded in count, each receive bounded in time.
        bool subscribed = false;
        var seqs = new List<long>();
        for (int i = 0; i < Ticks + 20 && (!subscribed || seqs.Count < Ticks); i++)
        {
            var m = await ReceiveJsonAsync(subscriber);
            if (m.TryGetProperty("id", out var id))
            {
                Assert.Equal(1, id.GetInt32());
                Assert.True(m.GetProperty("result").GetProperty("subscribed").GetBoolean(), m.GetRawText());
                subscribed = true;
                continue;
            }
            Assert.Equal("ticker.tick", m.GetProperty("event").GetString());
            Assert.Equal("ticker", m.GetProperty("topic").GetString());
            Assert.True(m.GetProperty("data").TryGetProperty("time", out _), m.GetRawText());
            seqs.Add(m.GetProperty("data").GetProperty("seq").GetInt64());
        }
        Assert.True(subscribed, "no reply to $subscribe\n" + host.Describe());
        Assert.True(seqs.Count >= Ticks, $"only {seqs.Count} ticks\n" + host.Describe());
        Assert.True(seqs[0] >= 1, string.Join(",", seqs));
        Assert.Equal(Enumerable.Range(0, seqs.Count).Select(i => seqs[0] + i), seqs); // increasing by one: none lost, none repeated

        // The bystander, connected all along but not subscribed, got no tick: its ping's pong is the first thing it receives.
        await SendAsync(bystander, """{"id":"p","path":"$ping"}""");
        var pong = await ReceiveJsonAsync(bystander);
        Assert.Equal("p", pong.GetProperty("id").GetString());
        Assert.Equal("pong", pong.GetProperty("result").GetString());

        subscriber.Abort();
        bystander.Abort();
        await host.SendSigTermAsync();
        Assert.True(await host.WaitForExitAsync(StartTimeout), "host did not stop within 30 s of SIGTERM\n" + host.Describe());
        Assert.True(host.ExitCode == 0, host.Describe());
        Assert.Contains("Gateway.Samples", host.StdOut);
    }
}
