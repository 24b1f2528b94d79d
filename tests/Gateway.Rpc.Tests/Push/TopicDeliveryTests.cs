using Gateway.Tests.Shared;
using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests.Push;

/// <summary>The push gateway of one test class: clients may $subscribe to room:*.</summary>
public sealed class PushGatewayFixture : IAsyncLifetime
{
    private RpcGateway? _gateway;
    public RpcGateway Gateway => _gateway ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _gateway = await PushKit.StartAsync();

    public async Task DisposeAsync()
    {
        if (_gateway is not null) await _gateway.DisposeAsync();
    }
}

/// <summary>
/// Topics on one node: a publish reaches exactly the subscribed connections, once each, in order; unsubscribing
/// (three ways) stops it; a connection that goes away leaves no subscription, topic or user entry behind.
/// "Did not arrive" is checked without sleeping: after the publisher's reply the other client pings, and the pong
/// must be the next thing it receives (a publish queues its event to every local subscriber before it returns).
/// </summary>
public sealed class TopicDeliveryTests(PushGatewayFixture fixture) : IClassFixture<PushGatewayFixture>
{
    private RpcGateway Gateway => fixture.Gateway;

    [Fact]
    public async Task Publish_ReachesEverySubscriberOnce_AndNoOtherConnection()
    {
        string topic = PushKit.Room(), other = PushKit.Room();
        await using var s1 = await Gateway.ConnectAsync();
        await using var s2 = await Gateway.ConnectAsync();
        await using var s3 = await Gateway.ConnectAsync();
        await using var onOther = await Gateway.ConnectAsync();
        await using var none = await Gateway.ConnectAsync();
        await using var publisher = await Gateway.ConnectAsync();
        foreach (var s in new[] { s1, s2, s3 }) await s.SubscribeAsync(topic);
        await onOther.SubscribeAsync(other);
        Assert.Equal(3, Gateway.Hub().SubscriberCount(topic));
        Assert.Equal(1, Gateway.Hub().SubscriberCount(other));

        await publisher.PublishAsync(topic, new { n = 1, text = "to the three" });

        foreach (var s in new[] { s1, s2, s3 })
        {
            await s.ExpectEventAsync("test.event", topic, new { n = 1, text = "to the three" });
            await s.AssertNothingPushedAsync("one publish is one event per subscriber");
        }
        await onOther.AssertNothingPushedAsync("subscribed to another topic");
        await none.AssertNothingPushedAsync("subscribed to nothing");
        await publisher.AssertNothingPushedAsync("the publisher is not subscribed");

        // The other topic reaches its own subscriber only.
        await publisher.PublishAsync(other, "second", "test.other");
        await onOther.ExpectEventAsync("test.other", other, "second");
        await onOther.AssertNothingPushedAsync();
        foreach (var c in new[] { s1, s2, s3, none, publisher }) await c.AssertNothingPushedAsync("not subscribed to " + other);
    }

    [Fact]
    public async Task APublisherThatIsSubscribed_GetsItsOwnEvent()
    {
        string topic = PushKit.Room();
        await using var client = await Gateway.ConnectAsync();
        await client.SubscribeAsync(topic);
        await client.PublishAsync(topic, 7);
        await client.ExpectEventAsync("test.event", topic, 7);
        await client.AssertNothingPushedAsync();
    }

    [Fact]
    public async Task ChatSample_JoinSendLeave_OverTopics()
    {
        string room = PushKit.Unique("r");
        string topic = "room:" + room;
        await using var alice = await Gateway.ConnectAsync();
        await using var bob = await Gateway.ConnectAsync();
        await using var outsider = await Gateway.ConnectAsync();
        var joined = await alice.ResultAsync("chat/join", new { room });
        Assert.Equal(topic, joined.Str("topic"));
        Assert.Equal(room, joined.Str("room"));
        await bob.ResultAsync("chat/join", new { room });
        await alice.ResultAsync("chat/login", new { user = "alice" });

        var sent = await alice.ResultAsync("chat/send", new { room, text = "hi all" });
        Assert.Equal(topic, sent.Str("topic"));

        foreach (var member in new[] { alice, bob })
        {
            var e = await member.ExpectEventAsync("chat.message", topic, data: null);
            Assert.Equal(room, e["data"].Str("room"));
            Assert.Equal("alice", e["data"].Str("from"));
            Assert.Equal("hi all", e["data"].Str("text"));
            Assert.False(string.IsNullOrEmpty(e["data"].Str("sentAt")), e.ToJsonString());
        }
        await outsider.AssertNothingPushedAsync("not in the room");

        await bob.ResultAsync("chat/leave", new { room });
        await outsider.ResultAsync("chat/send", new { room, text = "from outside" });
        var last = await alice.ExpectEventAsync("chat.message", topic, data: null);
        Assert.Equal("from outside", last["data"].Str("text"));
        await bob.AssertNothingPushedAsync("left the room");
        await outsider.AssertNothingPushedAsync("a sender that is not a member gets nothing");
    }

    public static TheoryData<string> UnsubscribeWays => new() { "$unsubscribe", "chat/leave", "push/unsubscribe" };

    [Theory]
    [MemberData(nameof(UnsubscribeWays))]
    public async Task Unsubscribe_StopsDelivery_ToThatConnectionOnly(string way)
    {
        string room = PushKit.Unique("u");
        string topic = "room:" + room;
        await using var leaving = await Gateway.ConnectAsync();
        await using var staying = await Gateway.ConnectAsync();
        await using var publisher = await Gateway.ConnectAsync();
        await leaving.SubscribeAsync(topic);
        await staying.SubscribeAsync(topic);
        await publisher.PublishAsync(topic, 1);
        await leaving.ExpectEventAsync("test.event", topic, 1);
        await staying.ExpectEventAsync("test.event", topic, 1);

        switch (way)
        {
            case "$unsubscribe":
                var reply = await leaving.ResultAsync("$unsubscribe", new { topic });
                Assert.Equal(topic, reply.Str("topic"));
                Assert.False(reply.Bool("subscribed"));
                break;
            case "chat/leave":
                Assert.Equal(topic, (await leaving.ResultAsync("chat/leave", new { room })).Str("topic"));
                break;
            default:
                Assert.True(await leaving.BoolAsync("push/unsubscribe", new { topic }));
                break;
        }
        Assert.Equal(1, Gateway.Hub().SubscriberCount(topic));

        await publisher.PublishAsync(topic, 2);
        await staying.ExpectEventAsync("test.event", topic, 2);
        await leaving.AssertNothingPushedAsync("unsubscribed with " + way);
        // Unsubscribed now: the server-side unsubscribe says so.
        Assert.False(await leaving.BoolAsync("push/unsubscribe", new { topic }));
        // And it can subscribe again.
        await leaving.SubscribeAsync(topic);
        await publisher.PublishAsync(topic, 3);
        await leaving.ExpectEventAsync("test.event", topic, 3);
        await staying.ExpectEventAsync("test.event", topic, 3);
    }

    [Fact]
    public async Task ServerSideSubscribe_OfAnotherConnectionById_DeliversToIt()
    {
        string topic = PushKit.Unique("srv:"); // no pattern opens srv:*: only the server may subscribe a client to it
        await using var target = await Gateway.ConnectAsync();
        await using var admin = await Gateway.ConnectAsync();
        string targetId = await target.IdAsync();
        Assert.Equal("PERMISSION_DENIED", (await target.ErrorAsync("$subscribe", new { topic })).Str("code"));

        Assert.True(await admin.BoolAsync("push/subscribe", new { connectionId = targetId, topic }));
        await admin.PublishAsync(topic, "server chose");
        await target.ExpectEventAsync("test.event", topic, "server chose");
        await admin.AssertNothingPushedAsync();

        Assert.True(await admin.BoolAsync("push/unsubscribe", new { connectionId = targetId, topic }));
        await admin.PublishAsync(topic, "after");
        await target.AssertNothingPushedAsync();
        // Ids that name no open connection: false, not an error.
        string node = Gateway.Hub().NodeId;
        Assert.False(await admin.BoolAsync("push/subscribe", new { connectionId = node + ".987654321", topic }));
        Assert.False(await admin.BoolAsync("push/subscribe", new { connectionId = "not-an-id", topic }));
    }

    [Fact]
    public async Task Disconnect_RemovesItsSubscriptionsTopicsAndUser()
    {
        // A gateway of its own: TopicCount is per node and must reach 0.
        await using var gateway = await PushKit.StartAsync();
        var hub = gateway.Hub();
        string t1 = PushKit.Room(), t2 = PushKit.Room(), user = PushKit.Unique("user-");
        var aborted = await gateway.ConnectAsync();
        var closed = await gateway.ConnectAsync();
        await using var publisher = await gateway.ConnectAsync();
        foreach (var c in new[] { aborted, closed })
        {
            await c.SubscribeAsync(t1);
            await c.SubscribeAsync(t2);
            await c.SetUserAsync(user);
        }
        Assert.Equal(2, hub.SubscriberCount(t1));
        Assert.Equal(2, hub.SubscriberCount(t2));
        Assert.Equal(2, hub.TopicCount);
        Assert.Equal(2, hub.UserConnectionCount(user));
        Assert.True(await publisher.BoolAsync("push/toUser", new { userId = user }));

        aborted.Abort();              // TCP dropped, no close handshake
        await aborted.DisposeAsync();
        await closed.DisposeAsync();  // a close handshake

        Assert.True(await Waits.WaitUntilAsync(() => hub.ConnectionCount == 1),
            $"connections still registered: {hub.ConnectionCount}");
        Assert.True(await Waits.WaitUntilAsync(() => hub.TopicCount == 0 && hub.SubscriberCount(t1) == 0 && hub.SubscriberCount(t2) == 0 && hub.UserConnectionCount(user) == 0),
            $"left behind: topics {hub.TopicCount}, {t1}: {hub.SubscriberCount(t1)}, {t2}: {hub.SubscriberCount(t2)}, user: {hub.UserConnectionCount(user)}");

        // Nobody is left to reach, and the publisher still works.
        await publisher.PublishAsync(t1, "into the void");
        Assert.False(await publisher.BoolAsync("push/toUser", new { userId = user }));
        await publisher.AssertNothingPushedAsync();

        // The same topic works again for a newcomer.
        await using var newcomer = await gateway.ConnectAsync();
        await newcomer.SubscribeAsync(t1);
        Assert.Equal(1, hub.TopicCount);
        await publisher.PublishAsync(t1, "again");
        await newcomer.ExpectEventAsync("test.event", t1, "again");
    }

    [Fact]
    public async Task TheSubscriptionsGauge_CountsSubscribesUnsubscribesAndDisconnects()
    {
        // Regression test for a bug the suite found (fixed in the server): a disconnect did not take its subscriptions off the gauge.
        await using var gateway = await PushKit.StartAsync();
        var metrics = gateway.Metrics();
        string t1 = PushKit.Room(), t2 = PushKit.Room();
        var a = await gateway.ConnectAsync();
        var b = await gateway.ConnectAsync();
        Assert.Equal(0, metrics.Subscriptions);
        foreach (var c in new[] { a, b })
        {
            await c.SubscribeAsync(t1);
            await c.SubscribeAsync(t2);
            await c.SubscribeAsync(t2); // already: not counted twice
        }
        Assert.Equal(4, metrics.Subscriptions);
        await a.ResultAsync("$unsubscribe", new { topic = t1 });
        await a.ResultAsync("$unsubscribe", new { topic = t1 }); // not subscribed: not counted
        Assert.Equal(3, metrics.Subscriptions);
        Assert.Contains("gateway_topic_subscriptions 3", metrics.ToPrometheus());

        a.Abort();
        await a.DisposeAsync();
        await b.DisposeAsync();
        Assert.True(await Waits.WaitUntilAsync(() => gateway.Hub().ConnectionCount == 0 && gateway.Hub().TopicCount == 0), "the connections are still registered");
        Assert.Equal(0, metrics.Subscriptions);
    }

    [Fact]
    public async Task AThousandPublishes_ArriveInOrder_AtEverySubscriber()
    {
        const int N = 1000;
        string topic = PushKit.Room();
        var subscribers = new List<RpcClient>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var s = await Gateway.ConnectAsync();
                subscribers.Add(s);
                await s.SubscribeAsync(topic);
            }
            await using var publisher = await Gateway.ConnectAsync();
            for (int i = 0; i < N; i++) await publisher.PublishAsync(topic, new { seq = i });

            foreach (var s in subscribers)
            {
                for (int i = 0; i < N; i++)
                {
                    var e = await s.NextEventAsync();
                    Assert.Equal(topic, e.Str("topic"));
                    long? seq = e["data"].Long("seq");
                    Assert.True(seq == i, $"event {i}: got seq {seq?.ToString() ?? "none"}");
                }
                await s.AssertNothingPushedAsync("exactly N events");
            }
        }
        finally
        {
            foreach (var s in subscribers) await s.DisposeAsync();
        }
    }

    [Fact]
    public async Task PublishWithMalformedTopicOrEvent_IsInvalidArgument()
    {
        await using var client = await Gateway.ConnectAsync();
        (await client.CallAsync("push/publish", new { topic = "has space", @event = "e", data = 1 })).AssertError("INVALID_ARGUMENT", 400);
        (await client.CallAsync("push/publish", new { topic = "", @event = "e", data = 1 })).AssertError("INVALID_ARGUMENT", 400);
        (await client.CallAsync("push/publish", new { topic = PushKit.Room(), @event = "", data = 1 })).AssertError("INVALID_ARGUMENT", 400);
        (await client.CallAsync("push/publish", new { topic = PushKit.Room(), @event = new string('e', 129), data = 1 })).AssertError("INVALID_ARGUMENT", 400);
        // The limits themselves are fine.
        Assert.True((await client.CallAsync("push/publish", new { topic = "room:" + new string('x', 251), @event = new string('e', 128), data = 1 })).ContainsKey("result"));
        await client.PingAsync();
    }
}
