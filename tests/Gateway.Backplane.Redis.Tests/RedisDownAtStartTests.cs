using System.Diagnostics;
using Gateway.Backplane.Redis.Tests.Infrastructure;
using Gateway.Rpc.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.Backplane.Redis.Tests;

/// <summary>
/// Redis not running yet when the nodes start (containers start in any order): the nodes start, serve their own
/// connections, and join the cluster by themselves once Redis is up.
/// </summary>
public sealed class RedisDownAtStartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Nodes_start_without_Redis_serve_local_calls_and_deliver_across_nodes_once_Redis_is_started()
    {
        await using var redis = await RedisServer.CreateAsync(start: false);
        Assert.False(await redis.PingAsync(TimeSpan.FromMilliseconds(500)), "nothing listens on the chosen port yet");
        await using var nodes = new GatewayNodes(redis, output);

        var started = Stopwatch.StartNew();
        var gwA = await nodes.StartAsync("A");
        output.WriteLine($"node A started without Redis in {started.ElapsedMilliseconds} ms");
        started.Restart();
        var gwB = await nodes.StartAsync("B");
        output.WriteLine($"node B started without Redis in {started.ElapsedMilliseconds} ms");
        Assert.False(GatewayNodes.Hub(gwA).Backplane.IsConnected);

        var a1 = await nodes.ConnectAsync(gwA);
        var a2 = await nodes.ConnectAsync(gwA);
        var b1 = await nodes.ConnectAsync(gwB);
        var b2 = await nodes.ConnectAsync(gwB);
        // Local calls work: plain ones, joins (the subscription is kept as desired state), local delivery.
        await a1.PingAsync();
        Assert.Equal(GatewayNodes.NodeId(gwA), (await a1.ResultAsync("chat/whoami")).Str("nodeId"));
        Assert.Equal("x", (await a1.ResultAsync("echo/echo", new { text = "x" })).Str("text"));
        await a1.ResultAsync("chat/join", new { room = "r" });
        await a2.ResultAsync("chat/join", new { room = "r" });
        await b1.ResultAsync("chat/join", new { room = "r" });
        await b2.ResultAsync("chat/login", new { user = "carol" });
        string a2Id = await GatewayNodes.ConnectionIdAsync(a2);
        Assert.Equal(true, (await a1.ResultAsync("push/toConnection", new { connectionId = a2Id, @event = "local", data = 1 }))!.GetValue<bool>());
        await a2.NextEventAsync("local");
        // A room publish reaches this node's members, and tells the sender the other nodes may not have it.
        (await a1.CallAsync("chat/send", new { room = "r", text = "no redis yet" }, timeout: TimeSpan.FromSeconds(15))).AssertError("UNAVAILABLE", 503);
        Assert.Equal("no redis yet", (await a2.NextEventAsync("chat.message"))["data"].Str("text"));

        await redis.StartAsync();
        var up = Stopwatch.StartNew();
        nodes.Log("Redis started");
        var reconnects = ReconnectWatch.WatchAsync(up, TimeSpan.FromSeconds(30), ("A", GatewayNodes.Hub(gwA).Backplane), ("B", GatewayNodes.Hub(gwB).Backplane));
        var toA = await Probes.UntilDeliveredAsync("B-to-A", b1, a1, "r", up);
        var toB = await Probes.UntilDeliveredAsync("A-to-B", a1, b1, "r", up);

        // From now on everything crosses: topic events, directed events, user events.
        for (int i = 0; i < 10; i++) await b1.ResultAsync("chat/send", new { room = "r", text = "after-" + i });
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("after-" + i, (await a1.NextEventAsync(m => (m["data"].Str("text") ?? "").StartsWith("after-", StringComparison.Ordinal), "after-" + i))["data"].Str("text"));
            Assert.Equal("after-" + i, (await a2.NextEventAsync(m => (m["data"].Str("text") ?? "").StartsWith("after-", StringComparison.Ordinal), "after-" + i))["data"].Str("text"));
        }
        string b2Id = await GatewayNodes.ConnectionIdAsync(b2);
        Assert.Equal(true, (await a1.ResultAsync("push/toConnection", new { connectionId = b2Id, @event = "remote", data = 2 }))!.GetValue<bool>());
        await b2.NextEventAsync("remote");

        // carol logged in while Redis was down: B registers her by itself once Redis is up.
        var dmDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        int dms = 0;
        bool delivered = false;
        while (!delivered && dms < 100 && DateTime.UtcNow < dmDeadline)
        {
            dms++;
            delivered = (await a1.ResultAsync("chat/dm", new { user = "carol", text = "hi carol " + dms })).Bool("delivered") == true;
            if (!delivered) await Task.Delay(50); // a bounded poll: the registration raises no event a client could see
        }
        output.WriteLine($"chat/dm to carol delivered {up.ElapsedMilliseconds} ms after Redis answered PING, at attempt {dms}");
        Assert.True(delivered, "carol, logged in while Redis was down, was never registered");
        await b2.NextEventAsync(m => m.Str("event") == "chat.direct" && m["data"].Str("text") == "hi carol " + dms, "the dm");
        Assert.True(GatewayNodes.Hub(gwA).Backplane.IsConnected);
        toA.WriteTo(output, a1);
        toB.WriteTo(output, b1);
        output.WriteLine($"backplanes connected at: {ReconnectWatch.Describe(await reconnects)}");
    }
}
