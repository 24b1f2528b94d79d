using Gateway.Backplane.Redis.Tests.Infrastructure;
using Gateway.Rpc.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.Backplane.Redis.Tests;

/// <summary>
/// One node cut off from Redis while Redis itself stays up with its data (a TCP forwarder between that node and Redis
/// is cut, then restored): what the node changed meanwhile must be in Redis once it is back, removals included.
/// </summary>
public sealed class RedisPartitionTests(RedisServerFixture fixture, ITestOutputHelper output) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public async Task Users_and_rooms_changed_while_a_node_was_cut_off_are_right_once_it_is_back()
    {
        await using var partition = new TcpPartition(fixture.Server.Port);
        await using var nodes = new GatewayNodes(fixture.Server, output);
        var gwA = await nodes.StartAsync("A");
        // B's presence outlives the cut (3 x 5 s), so A never takes it for dead and never cleans up after it:
        // whatever B's registrations are after the cut is what B itself made of them.
        var gwB = await nodes.StartAsync("B", new Dictionary<string, string?>
        {
            ["Gateway:Backplane:Redis:Configuration"] = partition.Configuration,
            ["Gateway:Backplane:Redis:HeartbeatInterval"] = "00:00:05",
        });
        var a1 = await nodes.ConnectAsync(gwA);
        var b1 = await nodes.ConnectAsync(gwB); // frank, leaves during the cut
        var b2 = await nodes.ConnectAsync(gwB); // gina, logs in during the cut
        var b3 = await nodes.ConnectAsync(gwB); // henry, stays
        await b1.ResultAsync("chat/login", new { user = "frank" });
        await b3.ResultAsync("chat/login", new { user = "henry" });
        Assert.Equal(true, (await a1.ResultAsync("chat/dm", new { user = "frank", text = "1" })).Bool("delivered"));
        var backplaneA = GatewayNodes.Hub(gwA).Backplane;
        var backplaneB = GatewayNodes.Hub(gwB).Backplane;

        partition.Cut();
        nodes.Log("B cut off from Redis");
        await b1.DisposeAsync(); // frank's only connection closes: B unregisters frank, which cannot reach Redis
        await nodes.Logs.WaitForAsync(l => l.Node == "[B]" && l.Message.Contains("unsubscribe user frank failed"), "B failing to unregister frank", TimeSpan.FromSeconds(15));
        // gina logs in: the registration cannot reach Redis either (login still answers; the registration is desired state).
        await b2.CallAsync("chat/login", new { user = "gina" }, timeout: TimeSpan.FromSeconds(15));
        await nodes.Logs.WaitForAsync(l => l.Node == "[B]" && l.Message.Contains("subscribe user gina failed"), "B failing to register gina", TimeSpan.FromSeconds(15));
        Assert.Equal([GatewayNodes.NodeId(gwB)], await backplaneA.GetUserNodesAsync("frank", CancellationToken.None)); // stale, for now
        // henry joins a room: answered (desired state), made once B is back.
        await b3.CallAsync("chat/join", new { room = "late" }, timeout: TimeSpan.FromSeconds(15));

        await partition.RestoreAsync();
        nodes.Log("B's path to Redis restored");
        var back = await ReconnectWatch.WatchAsync(nodes.Clock, TimeSpan.FromSeconds(30), ("B", backplaneB));
        output.WriteLine($"B connected again at {ReconnectWatch.Describe(back)}");
        Assert.True(backplaneB.IsConnected, "B did not reconnect");

        // B restores its registrations by itself: frank gone, gina there, henry kept. No event says when: poll, bounded.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        IReadOnlyList<string> frank = [], gina = [];
        for (int i = 0; i < 300 && DateTime.UtcNow < deadline; i++)
        {
            frank = await backplaneA.GetUserNodesAsync("frank", CancellationToken.None);
            gina = await backplaneA.GetUserNodesAsync("gina", CancellationToken.None);
            if (frank.Count == 0 && gina.Count == 1) break;
            await Task.Delay(50); // the interval of a bounded poll
        }
        nodes.Log($"registry after the cut: frank on [{string.Join(",", frank)}], gina on [{string.Join(",", gina)}]");
        Assert.Equal([GatewayNodes.NodeId(gwB)], gina);
        Assert.Empty(frank);
        Assert.Equal([GatewayNodes.NodeId(gwB)], await backplaneA.GetUserNodesAsync("henry", CancellationToken.None));

        // The room joined during the cut gets A's events once B is back (bounded probes: no event says when B resubscribed).
        var probes = await Probes.UntilDeliveredAsync("A-to-B", a1, b3, "late", nodes.Clock);
        probes.WriteTo(output, b3);

        // What a client sees: nobody is told a direct message to frank was delivered, gina's and henry's arrive.
        Assert.Equal(false, (await a1.ResultAsync("chat/dm", new { user = "frank", text = "2" })).Bool("delivered"));
        Assert.Equal(true, (await a1.ResultAsync("chat/dm", new { user = "gina", text = "hi gina" })).Bool("delivered"));
        await b2.NextEventAsync(m => m.Str("event") == "chat.direct" && m["data"].Str("text") == "hi gina", "gina's dm");
        Assert.Equal(true, (await a1.ResultAsync("chat/dm", new { user = "henry", text = "hi henry" })).Bool("delivered"));
        await b3.NextEventAsync(m => m.Str("event") == "chat.direct" && m["data"].Str("text") == "hi henry", "henry's dm");
    }
}
