using System.Diagnostics;
using System.Text;
using Gateway.Backplane.Redis.Tests.Infrastructure;
using Gateway.Rpc.Tests.Infrastructure;
using Gateway.Backplane;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Gateway.Backplane.Redis.Tests;

/// <summary>
/// Redis killed mid-test and started again on the same port, empty (no persistence): publishes fail while it is down
/// (never a success), the nodes keep serving their own connections, and once it is back the backplane restores its
/// subscriptions and user registrations by itself. Each test has its own redis-server, since it stops it.
/// </summary>
public sealed class RedisRestartTests(ITestOutputHelper output)
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static ReadOnlyMemory<byte> Bytes(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Subscribers Redis counts on a channel (PUBSUB NUMSUB).</summary>
    private static async Task<long> NumSubAsync(IDatabase db, string channel) => (long)((RedisResult[])(await db.ExecuteAsync("PUBSUB", "NUMSUB", channel))!)[1];

    [Fact]
    public async Task Backplane_operations_fail_while_Redis_is_down_and_its_state_is_restored_into_the_restarted_empty_Redis()
    {
        await using var redis = await RedisServer.CreateAsync();
        await using var nodes = new BackplaneNodes(redis, output);
        var a = await nodes.StartAsync("a");
        var b = await nodes.StartAsync("b");
        await a.Backplane.SubscribeAsync("t", None);
        await a.Backplane.AddUserAsync("alice", None);
        await b.Backplane.PublishAsync("t", Bytes("before"), None);
        await a.Receiver.WaitForAsync(Kind.Topic, "before", "t");
        using (var before = await ConnectionMultiplexer.ConnectAsync(redis.Configuration))
            Assert.True(await before.GetDatabase().StringSetAsync($"{nodes.Prefix}:marker", "1"));

        await redis.StopAsync();
        var down = Stopwatch.StartNew();
        // Every operation that needs Redis throws BackplaneUnavailableException (bounded by OperationTimeout; 10 s is slack).
        // Desired state changes made while down (a user, a subscription) throw too, but are kept and written once Redis is back.
        async Task<long> Fails(string what, Func<Task> operation)
        {
            var sw = Stopwatch.StartNew();
            await Assert.ThrowsAsync<BackplaneUnavailableException>(() => operation().WaitAsync(TimeSpan.FromSeconds(10)));
            output.WriteLine($"{what} while down failed after {sw.ElapsedMilliseconds} ms");
            return sw.ElapsedMilliseconds;
        }
        await Task.WhenAll(
            Fails("publish", () => b.Backplane.PublishAsync("t", Bytes("lost"), None).AsTask()),
            Fails("broadcast", () => b.Backplane.BroadcastAsync(Bytes("lost"), None).AsTask()),
            Fails("send to node", () => b.Backplane.SendToNodeAsync("a", Bytes("lost"), None).AsTask()),
            Fails("user lookup", () => b.Backplane.GetUserNodesAsync("alice", None).AsTask()),
            Fails("add user", () => b.Backplane.AddUserAsync("bob", None).AsTask()),
            Fails("subscribe", () => b.Backplane.SubscribeAsync("u", None).AsTask()));
        output.WriteLine($"Redis down for {down.ElapsedMilliseconds} ms");

        await redis.StartAsync();
        var up = Stopwatch.StartNew();
        var reconnects = ReconnectWatch.WatchAsync(up, TimeSpan.FromSeconds(30), ("a", a.Backplane), ("b", b.Backplane));
        using var inspect = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var db = inspect.GetDatabase();
        Assert.False(await db.KeyExistsAsync($"{nodes.Prefix}:marker"), "the restarted Redis is empty");

        // Reconnects are detected by StackExchange.Redis on its own schedule: poll, bounded, with probes that may be lost.
        int probes = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        bool crossed = false;
        for (; probes < 150 && DateTime.UtcNow < deadline && !crossed; probes++)
        {
            try { await b.Backplane.PublishAsync("t", Bytes("probe" + probes), None); }
            catch (BackplaneUnavailableException) { continue; }
            try
            {
                await a.Receiver.WaitUntilAsync(ms => ms.Any(m => m.Text.StartsWith("probe", StringComparison.Ordinal)), "a probe", TimeSpan.FromMilliseconds(200));
                crossed = true;
            }
            catch (TimeoutException) { }
        }
        Assert.True(crossed, $"no probe crossed within {probes} probes");
        output.WriteLine($"topic delivery b -> a back {up.ElapsedMilliseconds} ms after Redis answered PING, after {probes} probes");

        // The subscription and the user made while down were kept as desired state, and everything is written again.
        var restoreDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        IReadOnlyList<string> alice = [], bob = [];
        for (int i = 0; i < 300 && DateTime.UtcNow < restoreDeadline; i++)
        {
            alice = await b.Backplane.GetUserNodesAsync("alice", None);
            bob = await a.Backplane.GetUserNodesAsync("bob", None);
            if (alice.Count == 1 && bob.Count == 1) break;
            await Task.Delay(50); // the interval of a bounded poll: the restore runs in the background and raises no event
        }
        output.WriteLine($"user registrations back {up.ElapsedMilliseconds} ms after Redis answered PING");
        Assert.Equal(["a"], alice);
        Assert.Equal(["b"], bob);
        Assert.True(await db.KeyExistsAsync($"{nodes.Prefix}:presence:a"));
        Assert.True(await db.KeyExistsAsync($"{nodes.Prefix}:presence:b"));
        Assert.True(await db.SetContainsAsync($"{nodes.Prefix}:node-users:a", "alice"));

        // After the first crossing probe, everything arrives: topics (in order), node messages, broadcasts.
        for (int i = 0; i < 50; i++) await b.Backplane.PublishAsync("t", Bytes("after" + i), None);
        await a.Receiver.WaitUntilAsync(ms => ms.Count(m => m.Text.StartsWith("after", StringComparison.Ordinal)) == 50, "50 messages after the restart");
        Assert.Equal(Enumerable.Range(0, 50).Select(i => "after" + i), a.Receiver.Messages.Select(m => m.Text).Where(t => t.StartsWith("after", StringComparison.Ordinal)));
        Assert.True(await b.Backplane.SendToNodeAsync("a", Bytes("node after"), None));
        await a.Receiver.WaitForAsync(Kind.Node, "node after");
        // b's subscription to u, asked for while Redis was down, is made now.
        var uDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        bool uArrived = false;
        for (int i = 0; i < 100 && DateTime.UtcNow < uDeadline && !uArrived; i++)
        {
            await a.Backplane.PublishAsync("u", Bytes("u" + i), None);
            try
            {
                await b.Receiver.WaitUntilAsync(ms => ms.Any(m => m.Topic == "u"), "a message on u", TimeSpan.FromMilliseconds(200));
                uArrived = true;
            }
            catch (TimeoutException) { }
        }
        Assert.True(uArrived, "the subscription asked for while Redis was down was never made");
        // And it can be undone: the subscribe that failed while Redis was down left nothing behind in the client that
        // would keep the channel subscribed (and queue its messages for no reader).
        Assert.Equal(1, await NumSubAsync(db, $"{nodes.Prefix}:topic:u"));
        await b.Backplane.UnsubscribeAsync("u", None);
        Assert.Equal(0, await NumSubAsync(db, $"{nodes.Prefix}:topic:u"));
        await a.Backplane.UnsubscribeAsync("t", None);
        Assert.Equal(0, await NumSubAsync(db, $"{nodes.Prefix}:topic:t"));
        Assert.DoesNotContain(a.Receiver.Messages, m => m.Text == "lost");
        Assert.DoesNotContain(b.Receiver.Messages, m => m.Text == "lost");
        Assert.Equal(0, a.Receiver.OverlappingCallbacks);
        output.WriteLine($"backplanes connected again at: {ReconnectWatch.Describe(await reconnects)}");
    }

    [Fact]
    public async Task A_node_stops_and_disposes_within_its_operation_timeout_while_Redis_is_down()
    {
        await using var redis = await RedisServer.CreateAsync();
        await using var nodes = new BackplaneNodes(redis, output);
        var a = await nodes.StartAsync("a");
        await a.Backplane.AddUserAsync("alice", None);
        await a.Backplane.SubscribeAsync("t", None);
        await redis.StopAsync();

        var stopping = Stopwatch.StartNew();
        await a.Backplane.StopAsync(None).WaitAsync(TimeSpan.FromSeconds(15));
        await a.Backplane.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15));
        output.WriteLine($"stopped and disposed in {stopping.ElapsedMilliseconds} ms with Redis down");
        Assert.False(a.Backplane.IsConnected);
        // Leaving the cluster is one attempt bounded by OperationTimeout (1 s here); the rest is slack for a loaded machine.
        Assert.True(stopping.Elapsed < BackplaneNodes.OperationTimeout + TimeSpan.FromSeconds(1), $"took {stopping.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Gateways_answer_UNAVAILABLE_while_Redis_is_down_keep_serving_locally_and_recover_after_a_restart()
    {
        await using var redis = await RedisServer.CreateAsync();
        await using var nodes = new GatewayNodes(redis, output);
        var gwA = await nodes.StartAsync("A");
        var gwB = await nodes.StartAsync("B");
        var a1 = await nodes.ConnectAsync(gwA); // member of room r on A
        var b1 = await nodes.ConnectAsync(gwB); // member of room r on B, and the sender
        var b2 = await nodes.ConnectAsync(gwB); // user bob on B
        var b3 = await nodes.ConnectAsync(gwB);
        await a1.ResultAsync("chat/join", new { room = "r" });
        await b1.ResultAsync("chat/join", new { room = "r" });
        await b2.ResultAsync("chat/login", new { user = "bob" });
        string b3Id = await GatewayNodes.ConnectionIdAsync(b3);

        await b1.ResultAsync("chat/send", new { room = "r", text = "before" });
        Assert.Equal("before", (await a1.NextEventAsync("chat.message"))["data"].Str("text"));
        Assert.Equal(true, (await a1.ResultAsync("chat/dm", new { user = "bob", text = "dm before" })).Bool("delivered"));
        Assert.Equal("dm before", (await b2.NextEventAsync("chat.direct"))["data"].Str("text"));

        // ---- Redis down ----
        await redis.StopAsync();
        nodes.Log("Redis killed");
        var down = Stopwatch.StartNew();
        var failed = await b1.CallAsync("chat/send", new { room = "r", text = "while down" }, timeout: TimeSpan.FromSeconds(15));
        output.WriteLine($"chat/send while Redis is down answered after {down.ElapsedMilliseconds} ms: {failed.ToJsonString()}");
        var error = failed.AssertError("UNAVAILABLE", 503);
        Assert.Equal(true, error.Bool("retryable"));
        // Local delivery came first: the subscriber on the publishing node has it.
        await b1.NextEventAsync(m => m.Str("event") == "chat.message" && m["data"].Str("text") == "while down", "the local copy of the failed publish");
        // A lookup of a user on other nodes cannot be answered either: an error, not "not delivered".
        (await a1.CallAsync("chat/dm", new { user = "bob", text = "dm while down" }, timeout: TimeSpan.FromSeconds(15))).AssertError("UNAVAILABLE", 503);

        // Both nodes keep serving their own connections: plain calls, local events, local server-to-client calls.
        await a1.PingAsync();
        Assert.Equal("still here", (await a1.ResultAsync("echo/echo", new { text = "still here" })).Str("text"));
        Assert.Equal(true, (await b1.ResultAsync("push/toConnection", new { connectionId = b3Id, @event = "local", data = 1 }))!.GetValue<bool>());
        await b3.NextEventAsync("local");
        string cb = await b1.SendRequestAsync("echo/callback", new { n = 5 });
        var callback = await b1.NextServerCallAsync();
        await b1.SendJsonAsync(new System.Text.Json.Nodes.JsonObject { ["id"] = callback["id"]!.DeepClone(), ["result"] = callback["input"]!.DeepClone() });
        Assert.Equal(5, (await b1.ReadUntilTerminalAsync(cb))[^1]["result"].Long("n"));
        var late = await nodes.ConnectAsync(gwA); // new connections are accepted too
        await late.PingAsync();
        Assert.True(gwA.Server.IsReady && gwB.Server.IsReady);
        Assert.False(GatewayNodes.Hub(gwA).Backplane.IsConnected);
        output.WriteLine($"Redis down for {down.ElapsedMilliseconds} ms");

        // ---- Redis back, same port, empty ----
        await redis.StartAsync();
        var up = Stopwatch.StartNew();
        nodes.Log("Redis answers PING again; probing");
        var reconnects = ReconnectWatch.WatchAsync(up, TimeSpan.FromSeconds(30), ("A", GatewayNodes.Hub(gwA).Backplane), ("B", GatewayNodes.Hub(gwB).Backplane));
        var toA = await Probes.UntilDeliveredAsync("B-to-A", b1, a1, "r", up);
        var toB = await Probes.UntilDeliveredAsync("A-to-B", a1, b1, "r", up);

        // Everything published from now on arrives, in order, both ways.
        const int count = 20;
        for (int i = 0; i < count; i++) await b1.ResultAsync("chat/send", new { room = "r", text = "after-b-" + i });
        for (int i = 0; i < count; i++) await a1.ResultAsync("chat/send", new { room = "r", text = "after-a-" + i });
        for (int i = 0; i < count; i++)
            Assert.Equal("after-b-" + i, (await a1.NextEventAsync(m => (m["data"].Str("text") ?? "").StartsWith("after-b-", StringComparison.Ordinal), "after-b-" + i))["data"].Str("text"));
        for (int i = 0; i < count; i++)
            Assert.Equal("after-a-" + i, (await b1.NextEventAsync(m => (m["data"].Str("text") ?? "").StartsWith("after-a-", StringComparison.Ordinal), "after-a-" + i))["data"].Str("text"));

        // bob's registration, made before the restart, is written again into the empty Redis by B itself.
        var dmDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        int dms = 0;
        bool delivered = false;
        while (!delivered && dms < 100 && DateTime.UtcNow < dmDeadline)
        {
            dms++;
            delivered = (await a1.ResultAsync("chat/dm", new { user = "bob", text = "dm after " + dms })).Bool("delivered") == true;
            if (!delivered) await Task.Delay(50); // a bounded poll: the re-registration raises no event a client could see
        }
        output.WriteLine($"chat/dm to bob delivered again {up.ElapsedMilliseconds} ms after Redis answered PING, at attempt {dms}");
        Assert.True(delivered, "bob's registration was not restored");
        Assert.Equal("dm after " + dms, (await b2.NextEventAsync(m => m.Str("event") == "chat.direct" && m["data"].Str("text") == "dm after " + dms, "the dm"))["data"].Str("text"));
        Assert.Equal(true, (await a1.ResultAsync("chat/dm", new { user = "bob", text = "and again" })).Bool("delivered"));
        await b2.NextEventAsync(m => m["data"].Str("text") == "and again", "the second dm");
        // Directed events cross again.
        Assert.Equal(true, (await a1.ResultAsync("push/toConnection", new { connectionId = b3Id, @event = "remote", data = 2 }))!.GetValue<bool>());
        await b3.NextEventAsync("remote");

        // New subscriptions after the restart work at once (subscribe completes when events from every node arrive).
        var a2 = await nodes.ConnectAsync(gwA);
        await a2.ResultAsync("chat/join", new { room = "r2" });
        await b1.ResultAsync("chat/send", new { room = "r2", text = "new room" });
        Assert.Equal("new room", (await a2.NextEventAsync("chat.message"))["data"].Str("text"));

        // The failed publish was never delivered later (at most once, and never replayed).
        await a1.PingAsync();
        Assert.DoesNotContain(a1.EventsNamed("chat.message"), m => m["data"].Str("text") == "while down");
        Assert.DoesNotContain(b2.EventsNamed("chat.direct"), m => m["data"].Str("text") == "dm while down");
        toA.WriteTo(output, a1);
        toB.WriteTo(output, b1);
        output.WriteLine($"recovered fully {up.ElapsedMilliseconds} ms after Redis answered PING; backplanes connected again at: {ReconnectWatch.Describe(await reconnects)}");
    }
}
