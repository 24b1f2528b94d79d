using System.Text;
using Gateway.Backplane.Redis.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Gateway.Backplane.Redis.Tests;

/// <summary>
/// The IBackplane contract over a real Redis: RedisBackplane instances with different node ids and recording receivers,
/// one redis-server for the class, one ChannelPrefix per test.
/// </summary>
public sealed class RedisBackplaneTests(RedisServerFixture fixture, ITestOutputHelper output) : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly BackplaneNodes _nodes = new(fixture.Server, output);
    private ConnectionMultiplexer? _inspect;

    /// <summary>A plain client on the same Redis, to look at the keys and channels the backplane uses.</summary>
    private IDatabase Db => _inspect!.GetDatabase();
    private string P => _nodes.Prefix;

    public async Task InitializeAsync() => _inspect = await ConnectionMultiplexer.ConnectAsync(fixture.Server.Configuration);

    public async Task DisposeAsync()
    {
        await _nodes.DisposeAsync();
        if (_inspect is not null) await _inspect.DisposeAsync();
    }

    private static ReadOnlyMemory<byte> Bytes(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Subscribers Redis counts on a channel (PUBSUB NUMSUB).</summary>
    private async Task<long> NumSubAsync(string channel)
    {
        var r = await Db.ExecuteAsync("PUBSUB", "NUMSUB", channel);
        var parts = (RedisResult[])r!;
        return (long)parts[1];
    }

    [Fact]
    public async Task Topic_message_reaches_a_subscribed_node_and_not_an_unsubscribed_one()
    {
        var a = await _nodes.StartAsync("a");
        var b = await _nodes.StartAsync("b");
        var c = await _nodes.StartAsync("c");
        await a.Backplane.SubscribeAsync("room:1", None);
        await c.Backplane.SubscribeAsync("room:2", None);
        Assert.Equal(1, await NumSubAsync($"{P}:topic:room:1"));

        await b.Backplane.PublishAsync("room:1", Bytes("m1"), None);
        // The barrier: b publishes to room:2 after room:1, and c listens to room:2 only.
        await b.Backplane.PublishAsync("room:2", Bytes("barrier"), None);

        await a.Receiver.WaitForAsync(Kind.Topic, "m1", "room:1", Wait);
        await c.Receiver.WaitForAsync(Kind.Topic, "barrier", "room:2", Wait);
        Assert.Empty(c.Receiver.Of(Kind.Topic, "room:1"));
        Assert.Empty(b.Receiver.Messages);
        Assert.Equal([new Received(Kind.Topic, "room:1", "m1")], a.Receiver.Messages);
    }

    [Fact]
    public async Task Unsubscribe_stops_delivery_to_that_node()
    {
        var a = await _nodes.StartAsync("a");
        var b = await _nodes.StartAsync("b");
        await a.Backplane.SubscribeAsync("t", None);
        await a.Backplane.SubscribeAsync("other", None);
        await b.Backplane.PublishAsync("t", Bytes("before"), None);
        await a.Receiver.WaitForAsync(Kind.Topic, "before", "t", Wait);

        await a.Backplane.UnsubscribeAsync("t", None);
        Assert.Equal(0, await NumSubAsync($"{P}:topic:t"));
        await b.Backplane.PublishAsync("t", Bytes("after"), None);
        await b.Backplane.PublishAsync("other", Bytes("barrier"), None);
        await a.Receiver.WaitForAsync(Kind.Topic, "barrier", "other", Wait);
        Assert.Equal(["before"], a.Receiver.Of(Kind.Topic, "t").Select(m => m.Text));

        // Subscribing again works (the subscription entry was really dropped, not left half-removed).
        await a.Backplane.SubscribeAsync("t", None);
        await b.Backplane.PublishAsync("t", Bytes("again"), None);
        await a.Receiver.WaitForAsync(Kind.Topic, "again", "t", Wait);
    }

    [Fact]
    public async Task A_node_never_receives_its_own_topic_publish_or_broadcast()
    {
        var a = await _nodes.StartAsync("a");
        var b = await _nodes.StartAsync("b");
        await a.Backplane.SubscribeAsync("t", None);
        await b.Backplane.SubscribeAsync("t", None);

        // Alternating senders on one channel: when a node sees the other's later message, its own earlier one
        // (sent first on the same channel, so delivered first by Redis) would have been seen already if not dropped.
        await a.Backplane.PublishAsync("t", Bytes("a1"), None);
        await b.Backplane.PublishAsync("t", Bytes("b1"), None);
        await a.Backplane.PublishAsync("t", Bytes("a2"), None);
        await b.Backplane.PublishAsync("t", Bytes("b2"), None);
        await a.Receiver.WaitForAsync(Kind.Topic, "b2", "t", Wait);
        await b.Receiver.WaitForAsync(Kind.Topic, "a2", "t", Wait);
        Assert.Equal(["b1", "b2"], a.Receiver.Of(Kind.Topic).Select(m => m.Text));
        Assert.Equal(["a1", "a2"], b.Receiver.Of(Kind.Topic).Select(m => m.Text));

        await a.Backplane.BroadcastAsync(Bytes("A1"), None);
        await b.Backplane.BroadcastAsync(Bytes("B1"), None);
        await a.Backplane.BroadcastAsync(Bytes("A2"), None);
        await b.Backplane.BroadcastAsync(Bytes("B2"), None);
        await a.Receiver.WaitForAsync(Kind.Broadcast, "B2", timeout: Wait);
        await b.Receiver.WaitForAsync(Kind.Broadcast, "A2", timeout: Wait);
        Assert.Equal(["B1", "B2"], a.Receiver.Of(Kind.Broadcast).Select(m => m.Text));
        Assert.Equal(["A1", "A2"], b.Receiver.Of(Kind.Broadcast).Select(m => m.Text));
    }

    [Fact]
    public async Task Broadcast_reaches_every_other_node()
    {
        var a = await _nodes.StartAsync("a");
        var b = await _nodes.StartAsync("b");
        var c = await _nodes.StartAsync("c");
        await a.Backplane.BroadcastAsync(Bytes("hello"), None);
        await b.Receiver.WaitForAsync(Kind.Broadcast, "hello", timeout: Wait);
        await c.Receiver.WaitForAsync(Kind.Broadcast, "hello", timeout: Wait);
    }

    [Fact]
    public async Task Order_is_kept_for_1000_messages_and_callbacks_never_overlap()
    {
        const int count = 1000;
        var a = await _nodes.StartAsync("a");
        var b = await _nodes.StartAsync("b");
        await a.Backplane.SubscribeAsync("seq", None);

        // Sent back to back without awaiting each one: the order is the order of the calls.
        var sends = new Task[count];
        for (int i = 0; i < count; i++) sends[i] = b.Backplane.PublishAsync("seq", Bytes(i.ToString()), None).AsTask();
        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(20));

        await a.Receiver.WaitUntilAsync(ms => ms.Count >= count, $"{count} messages", TimeSpan.FromSeconds(20));
        var got = a.Receiver.Messages.Select(m => int.Parse(m.Text)).ToList();
        Assert.Equal(Enumerable.Range(0, count), got);
        Assert.Equal(0, a.Receiver.OverlappingCallbacks);
    }

    [Fact]
    public async Task SendToNode_is_true_for_a_live_node_and_false_for_an_unknown_one()
    {
        var a = await _nodes.StartAsync("a");
        var b = await _nodes.StartAsync("b");

        Assert.True(await a.Backplane.SendToNodeAsync("b", Bytes("direct"), None));
        await b.Receiver.WaitForAsync(Kind.Node, "direct", timeout: Wait);
        Assert.False(await a.Backplane.SendToNodeAsync("nobody", Bytes("lost"), None));
        // A node's own channel is live too (a node may address itself).
        Assert.True(await b.Backplane.SendToNodeAsync("b", Bytes("self"), None));
        await b.Receiver.WaitForAsync(Kind.Node, "self", timeout: Wait);
        Assert.Empty(a.Receiver.Messages);
    }

    [Fact]
    public async Task User_registry_add_remove_get_and_forget()
    {
        var a = await _nodes.StartAsync("a");
        var b = await _nodes.StartAsync("b");
        Assert.Empty(await a.Backplane.GetUserNodesAsync("alice", None));

        await a.Backplane.AddUserAsync("alice", None);
        await b.Backplane.AddUserAsync("alice", None);
        await b.Backplane.AddUserAsync("bob", None);
        Assert.Equal(["a", "b"], (await a.Backplane.GetUserNodesAsync("alice", None)).Order());
        Assert.Equal(["b"], await a.Backplane.GetUserNodesAsync("bob", None));
        // Adding twice is one registration.
        await a.Backplane.AddUserAsync("alice", None);
        Assert.Equal(2, (await b.Backplane.GetUserNodesAsync("alice", None)).Count);

        await a.Backplane.RemoveUserAsync("alice", None);
        Assert.Equal(["b"], await b.Backplane.GetUserNodesAsync("alice", None));
        Assert.False(await Db.SetContainsAsync($"{P}:node-users:a", "alice"));

        await a.Backplane.ForgetUserNodeAsync("bob", "b", None);
        Assert.Empty(await a.Backplane.GetUserNodesAsync("bob", None));
        Assert.False(await Db.SetContainsAsync($"{P}:node-users:b", "bob"));
        Assert.Equal(["b"], await a.Backplane.GetUserNodesAsync("alice", None));
    }

    [Fact]
    public async Task A_node_that_dies_without_leaving_is_removed_from_its_users_after_its_presence_expires()
    {
        var a = await _nodes.StartAsync("a");
        var b = await _nodes.StartAsync("b");
        await a.Backplane.AddUserAsync("alice", None);
        await a.Backplane.AddUserAsync("bob", None);
        await b.Backplane.AddUserAsync("bob", None);
        Assert.True(await Db.KeyExistsAsync($"{P}:presence:a"));
        var ttl = await Db.KeyTimeToLiveAsync($"{P}:presence:a");
        Assert.NotNull(ttl);
        Assert.InRange(ttl!.Value, TimeSpan.FromMilliseconds(1), BackplaneNodes.Heartbeat * 3);

        // Dies: its connection is gone, no StopAsync, so nothing is cleaned up by a itself.
        a.Backplane.Multiplexer!.Dispose();
        Assert.True(await Db.SetContainsAsync($"{P}:user:alice", "a"), "a died without leaving: its registration is still there");

        // No event tells when b's heartbeat notices: poll the registry, bounded.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        IReadOnlyList<string> alice = ["a"];
        for (int i = 0; i < 300 && DateTime.UtcNow < deadline; i++)
        {
            alice = await b.Backplane.GetUserNodesAsync("alice", None);
            if (alice.Count == 0) break;
            await Task.Delay(50);
        }
        Assert.Empty(alice);
        // Removed only because the presence expired, and cleaned up completely.
        Assert.False(await Db.KeyExistsAsync($"{P}:presence:a"));
        Assert.Equal(["b"], await b.Backplane.GetUserNodesAsync("bob", None));
        Assert.False(await Db.KeyExistsAsync($"{P}:node-users:a"));
        Assert.False(await Db.SetContainsAsync($"{P}:nodes", "a"));
        Assert.True(await Db.SetContainsAsync($"{P}:nodes", "b"));
        // And nobody listens on its channel any more.
        Assert.False(await b.Backplane.SendToNodeAsync("a", Bytes("gone?"), None));
    }

    [Fact]
    public async Task StopAsync_removes_presence_and_users()
    {
        var a = await _nodes.StartAsync("a");
        var b = await _nodes.StartAsync("b");
        await a.Backplane.AddUserAsync("alice", None);
        await b.Backplane.AddUserAsync("alice", None);
        await b.Backplane.AddUserAsync("bob", None);
        await b.Backplane.SubscribeAsync("t", None);
        Assert.True(await Db.KeyExistsAsync($"{P}:presence:b"));
        Assert.True(await Db.SetContainsAsync($"{P}:nodes", "b"));

        await b.Backplane.StopAsync(None);

        Assert.False(await Db.KeyExistsAsync($"{P}:presence:b"));
        Assert.False(await Db.SetContainsAsync($"{P}:nodes", "b"));
        Assert.False(await Db.KeyExistsAsync($"{P}:node-users:b"));
        Assert.Equal(["a"], await a.Backplane.GetUserNodesAsync("alice", None));
        Assert.Empty(await a.Backplane.GetUserNodesAsync("bob", None));
        Assert.False(await a.Backplane.SendToNodeAsync("b", Bytes("gone?"), None));
        Assert.Equal(0, await NumSubAsync($"{P}:topic:t"));
        Assert.True(await Db.KeyExistsAsync($"{P}:presence:a"));
    }
}
