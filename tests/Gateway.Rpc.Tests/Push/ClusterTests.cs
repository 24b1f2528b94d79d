using Gateway.Tests.Shared;
using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;
using Gateway.Backplane;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Rpc.Tests.Push;

/// <summary>Two gateways in this process sharing one <see cref="InMemoryBus"/>: one cluster of two nodes, A and B.</summary>
public sealed class TwoNodeFixture : IAsyncLifetime
{
    public const int MaxSubscriptions = 4;
    public const int MaxServerCalls = 2;
    private RpcGateway? _a, _b;
    public InMemoryBus Bus { get; } = new();
    public RpcGateway A => _a ?? throw new InvalidOperationException("not started");
    public RpcGateway B => _b ?? throw new InvalidOperationException("not started");

    public static Dictionary<string, string?> NodeSettings => new()
    {
        ["Gateway:Topics:MaxSubscriptionsPerConnection"] = MaxSubscriptions.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Gateway:Limits:MaxServerCallsPerConnection"] = MaxServerCalls.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public async Task InitializeAsync()
    {
        _a = await PushKit.StartNodeAsync(Bus, NodeSettings);
        _b = await PushKit.StartNodeAsync(Bus, NodeSettings);
    }

    public async Task DisposeAsync()
    {
        if (_b is not null) await _b.DisposeAsync();
        if (_a is not null) await _a.DisposeAsync();
    }
}

/// <summary>
/// Topics, direct and user events, server-to-client calls and server-side subscribes across two nodes. Across nodes an
/// event travels through the backplane after the publisher's reply, so "did not arrive" needs a barrier: a second
/// message from the same node on the same channel (topic, or the node's own channel) that a watcher on the receiving
/// node must get first. The receiving node handles one channel's messages in order, one at a time, so once the
/// watcher has the second one the first was handled completely.
/// </summary>
public sealed class ClusterTests(TwoNodeFixture cluster) : IClassFixture<TwoNodeFixture>
{
    private RpcGateway A => cluster.A;
    private RpcGateway B => cluster.B;

    /// <summary>A second publish to <paramref name="topic"/> from the publisher's node, which <paramref name="watcher"/> (subscribed) must get.</summary>
    private static async Task TopicBarrierAsync(RpcClient publisher, string topic, params RpcClient[] watchers)
    {
        string marker = Guid.NewGuid().ToString("N");
        await publisher.PublishAsync(topic, marker, "test.barrier");
        foreach (var w in watchers) await w.ExpectEventAsync("test.barrier", topic, marker);
    }

    /// <summary>A direct event from the sender's node to <paramref name="watcher"/>'s node (the node channel), which it must get.</summary>
    private static async Task NodeBarrierAsync(RpcClient sender, RpcClient watcher)
    {
        string marker = Guid.NewGuid().ToString("N");
        Assert.True(await sender.BoolAsync("push/toConnection", new { connectionId = await watcher.IdAsync(), @event = "test.barrier", data = marker }));
        await watcher.ExpectEventAsync("test.barrier", null, marker);
    }

    [Fact]
    public void TheNodesAreOneClusterWithDistinctIds()
    {
        Assert.NotEqual(A.Hub().NodeId, B.Hub().NodeId);
        Assert.Contains(A.Hub().NodeId, cluster.Bus.Nodes);
        Assert.Contains(B.Hub().NodeId, cluster.Bus.Nodes);
    }

    [Fact]
    public async Task ATopicEvent_CrossesNodesBothWays_ToSubscribersOnly()
    {
        string topic = PushKit.Room(), other = PushKit.Room();
        await using var a1 = await A.ConnectAsync();
        await using var a2 = await A.ConnectAsync();
        await using var b1 = await B.ConnectAsync();
        await using var b2 = await B.ConnectAsync();
        await using var pubA = await A.ConnectAsync();
        await using var pubB = await B.ConnectAsync();
        await a1.SubscribeAsync(topic);
        await b1.SubscribeAsync(topic);
        await a2.SubscribeAsync(other);
        await b2.SubscribeAsync(other);

        // B to A (and B's own subscriber).
        await pubB.PublishAsync(topic, "from B");
        await a1.ExpectEventAsync("test.event", topic, "from B");
        await b1.ExpectEventAsync("test.event", topic, "from B");
        await TopicBarrierAsync(pubB, topic, a1, b1);
        foreach (var c in new[] { a1, a2, b1, b2, pubA, pubB }) await c.AssertNothingPushedAsync("one event each, subscribers only");

        // A to B.
        await pubA.PublishAsync(topic, "from A");
        await a1.ExpectEventAsync("test.event", topic, "from A");
        await b1.ExpectEventAsync("test.event", topic, "from A");
        await TopicBarrierAsync(pubA, topic, a1, b1);
        foreach (var c in new[] { a1, a2, b1, b2, pubA, pubB }) await c.AssertNothingPushedAsync("one event each, subscribers only");

        // The other topic, from B: its subscribers on both nodes, nobody else.
        await pubB.PublishAsync(other, "other");
        await a2.ExpectEventAsync("test.event", other, "other");
        await b2.ExpectEventAsync("test.event", other, "other");
        await TopicBarrierAsync(pubB, other, a2, b2);
        foreach (var c in new[] { a1, a2, b1, b2 }) await c.AssertNothingPushedAsync();
    }

    [Fact]
    public async Task ATopicWithSubscribersOnTheOtherNodeOnly_ReachesThem_InOrder()
    {
        const int N = 500;
        string topic = PushKit.Room();
        await using var a1 = await A.ConnectAsync();
        await using var a2 = await A.ConnectAsync();
        await using var pubB = await B.ConnectAsync();
        await a1.SubscribeAsync(topic);
        await a2.SubscribeAsync(topic);
        Assert.Equal(0, B.Hub().SubscriberCount(topic));

        for (int i = 0; i < N; i++) await pubB.PublishAsync(topic, new { seq = i });
        foreach (var s in new[] { a1, a2 })
        {
            for (int i = 0; i < N; i++)
            {
                var e = await s.NextEventAsync();
                Assert.True(e["data"].Long("seq") == i, $"event {i}: {e.ToJsonString()}");
            }
        }
        await TopicBarrierAsync(pubB, topic, a1, a2);
        await a1.AssertNothingPushedAsync();
        await a2.AssertNothingPushedAsync();
    }

    [Fact]
    public async Task UnsubscribingOnOneNode_StopsEventsFromTheOther()
    {
        string topic = PushKit.Room();
        await using var leaving = await A.ConnectAsync();
        await using var watcher = await A.ConnectAsync();
        await using var pubB = await B.ConnectAsync();
        await leaving.SubscribeAsync(topic);
        await watcher.SubscribeAsync(topic);
        await pubB.PublishAsync(topic, 1);
        await leaving.ExpectEventAsync("test.event", topic, 1);
        await watcher.ExpectEventAsync("test.event", topic, 1);

        await leaving.ResultAsync("$unsubscribe", new { topic });
        await pubB.PublishAsync(topic, 2);
        await watcher.ExpectEventAsync("test.event", topic, 2);
        await TopicBarrierAsync(pubB, topic, watcher);
        await leaving.AssertNothingPushedAsync("unsubscribed");

        // The last subscriber on A leaves (A stops listening to the topic), then one comes back (A listens again).
        await watcher.ResultAsync("$unsubscribe", new { topic });
        Assert.Equal(0, A.Hub().SubscriberCount(topic));
        await pubB.PublishAsync(topic, 3);
        await leaving.SubscribeAsync(topic);
        await pubB.PublishAsync(topic, 4);
        await leaving.ExpectEventAsync("test.event", topic, 4);
        await TopicBarrierAsync(pubB, topic, leaving);
        await leaving.AssertNothingPushedAsync("event 3 was published while nobody on A was subscribed");
        await watcher.AssertNothingPushedAsync();
    }

    [Fact]
    public async Task ADirectEvent_ReachesAConnectionOfTheOtherNode_Only()
    {
        await using var sender = await A.ConnectAsync();
        await using var target = await B.ConnectAsync();
        await using var bystander = await B.ConnectAsync();
        string targetId = await target.IdAsync();
        Assert.StartsWith(B.Hub().NodeId + ".", targetId);

        Assert.True(await sender.BoolAsync("push/toConnection", new { connectionId = targetId, @event = "test.direct", data = new { to = "B" } }));
        await target.ExpectEventAsync("test.direct", null, new { to = "B" });
        await NodeBarrierAsync(sender, target);
        await bystander.AssertNothingPushedAsync();
        await target.AssertNothingPushedAsync();
        await sender.AssertNothingPushedAsync();

        // A well-formed id of a live node is handed to that node (true, as documented: it cannot know more), which
        // finds no such connection and delivers to nobody.
        Assert.True(await sender.BoolAsync("push/toConnection", new { connectionId = B.Hub().NodeId + ".999999999", @event = "test.direct", data = 0 }));
        await NodeBarrierAsync(sender, target);
        await bystander.AssertNothingPushedAsync();
        await target.AssertNothingPushedAsync();
        // A node that is not in the cluster: false.
        Assert.False(await sender.BoolAsync("push/toConnection", new { connectionId = "zzzzzzzzzz.1", @event = "test.direct", data = 0 }));
    }

    [Fact]
    public async Task AUserEvent_ReachesTheUsersConnectionsOnBothNodes_AndFollowsUserChanges()
    {
        string carol = PushKit.Unique("carol-"), dave = PushKit.Unique("dave-");
        await using var carolA = await A.ConnectAsync();
        await using var carolB = await B.ConnectAsync();
        await using var daveA = await A.ConnectAsync();
        await using var anonB = await B.ConnectAsync();
        await carolA.SetUserAsync(carol);
        await carolB.SetUserAsync(carol);
        await daveA.SetUserAsync(dave);

        Assert.True(await anonB.BoolAsync("push/toUser", new { userId = carol, @event = "test.user", data = "hi carol" }));
        await carolA.ExpectEventAsync("test.user", null, "hi carol");
        await carolB.ExpectEventAsync("test.user", null, "hi carol");
        await NodeBarrierAsync(anonB, daveA);
        foreach (var c in new[] { carolA, carolB, daveA, anonB }) await c.AssertNothingPushedAsync("carol's connections only");

        // carolB is nobody now: a user event from A reaches carolA only.
        await carolB.SetUserAsync(null);
        Assert.True(await daveA.BoolAsync("push/toUser", new { userId = carol, @event = "test.user", data = "again" }));
        await carolA.ExpectEventAsync("test.user", null, "again");
        await NodeBarrierAsync(daveA, anonB);
        foreach (var c in new[] { carolA, carolB, daveA, anonB }) await c.AssertNothingPushedAsync("carolB is no longer carol");

        // carolA leaves: once the cluster forgets carol, she cannot be reached.
        await carolA.DisposeAsync();
        Assert.True(await Waits.WaitUntilAsync(() => A.Hub().UserConnectionCount(carol) == 0));
        var backplane = B.Provider.GetRequiredService<IBackplane>();
        Assert.True(await Waits.WaitUntilAsync(async () => (await backplane.GetUserNodesAsync(carol, default)).Count == 0),
            "the backplane still lists a node for carol");
        Assert.False(await anonB.BoolAsync("push/toUser", new { userId = carol, @event = "test.user", data = "gone" }));
        await carolB.AssertNothingPushedAsync();
    }

    [Fact]
    public async Task ABroadcast_ReachesEveryConnectionOfEveryNode()
    {
        await using var a1 = await A.ConnectAsync();
        await using var a2 = await A.ConnectAsync();
        await using var b1 = await B.ConnectAsync();
        await using var b2 = await B.ConnectAsync();
        string marker = Guid.NewGuid().ToString("N");
        var reply = await a1.CallAsync("push/broadcast", new { @event = "test.all", data = marker });
        Assert.True(reply.ContainsKey("result"), reply.ToJsonString());
        foreach (var c in new[] { a1, a2, b1, b2 }) await c.ExpectEventAsync("test.all", null, marker);
    }

    [Fact]
    public async Task AServerCallToAConnectionOfTheOtherNode_ReturnsTheClientsResult()
    {
        await using var caller = await A.ConnectAsync();
        await using var callee = await B.ConnectAsync();
        string key = await caller.SendRequestAsync("push/call", new { connectionId = await callee.IdAsync(), input = new { q = "across" } });
        var call = await callee.NextServerCallAsync();
        Assert.Equal("client/echo", call.Str("path"));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"q":"across"}"""), call["input"]), call.ToJsonString());
        await callee.AnswerAsync(call["id"], JsonNode.Parse("""{"a":[1,2]}"""));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"a":[1,2]}"""), (await caller.NextAsync(key))["result"]));
        await caller.AssertNothingPushedAsync();
    }

    [Fact]
    public async Task AServerCallAcrossNodes_PropagatesTheClientsError()
    {
        await using var caller = await B.ConnectAsync();
        await using var callee = await A.ConnectAsync();
        string key = await caller.SendRequestAsync("push/call", new { connectionId = await callee.IdAsync() });
        var call = await callee.NextServerCallAsync();
        await callee.AnswerErrorAsync(call["id"], PushKit.ErrorObject("FAILED_PRECONDITION", 412, "not across", true, JsonNode.Parse("""{"node":"A"}""")));
        var error = (await caller.NextAsync(key)).AssertError("FAILED_PRECONDITION", 412);
        Assert.Equal("not across", error.Str("message"));
        Assert.Equal(true, error.Bool("retryable"));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"node":"A"}"""), error["details"]), error.ToJsonString());
    }

    [Fact]
    public async Task AServerCallAcrossNodes_TimesOut_AndTheClientGetsOneCancel()
    {
        await using var caller = await A.ConnectAsync();
        await using var callee = await B.ConnectAsync();
        string key = await caller.SendRequestAsync("push/call", new { connectionId = await callee.IdAsync(), timeoutMs = 400 });
        var call = await callee.NextServerCallAsync();
        string callKey = RpcClient.Key(call["id"]);

        (await caller.NextAsync(key)).AssertError("DEADLINE_EXCEEDED", 504);
        Assert.Equal(true, (await callee.NextAsync(callKey)).Bool("cancel"));
        // A late answer goes nowhere; the caller gets nothing more.
        await callee.AnswerAsync(call["id"], "late");
        await NodeBarrierAsync(callee, caller); // B to A on A's node channel, after any reply the late answer could have caused
        await callee.AssertNothingPushedAsync();
        await caller.AssertNothingPushedAsync();
        PushKit.AssertCallThenOneCancel(callee, callKey);
        Assert.Single(caller.ReceivedFor(key)); // the error only
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AServerCallAcrossNodes_IsUnavailable_WhenTheCalledConnectionCloses(bool abort)
    {
        await using var caller = await A.ConnectAsync();
        var callee = await B.ConnectAsync();
        string key = await caller.SendRequestAsync("push/call", new { connectionId = await callee.IdAsync(), timeoutMs = 30_000 });
        await callee.NextServerCallAsync();
        if (abort) callee.Abort();
        await callee.DisposeAsync();
        (await caller.NextAsync(key)).AssertError("UNAVAILABLE", 503);
    }

    [Fact]
    public async Task AServerCallAcrossNodes_CancelledByTheCaller_CancelsOnTheClient()
    {
        await using var caller = await A.ConnectAsync();
        await using var callee = await B.ConnectAsync();
        string key = await caller.SendRequestAsync("push/call", new { connectionId = await callee.IdAsync(), timeoutMs = 30_000 });
        var call = await callee.NextServerCallAsync();
        await caller.SendCancelAsync(key);
        Assert.Equal(true, (await callee.NextAsync(RpcClient.Key(call["id"]))).Bool("cancel"));
        await caller.AssertNothingPushedAsync();
        Assert.Empty(caller.ReceivedFor(key));
    }

    [Fact]
    public async Task AServerCallAcrossNodes_IsCancelledOnTheClient_WhenTheCallerDisconnects()
    {
        var caller = await A.ConnectAsync();
        await using var callee = await B.ConnectAsync();
        await caller.SendRequestAsync("push/call", new { connectionId = await callee.IdAsync(), timeoutMs = 30_000 });
        var call = await callee.NextServerCallAsync();
        caller.Abort();
        await caller.DisposeAsync();
        Assert.Equal(true, (await callee.NextAsync(RpcClient.Key(call["id"]))).Bool("cancel"));
        await callee.AssertNothingPushedAsync();
    }

    [Fact]
    public async Task AServerCallAcrossNodes_PastTheCalledConnectionsLimit_IsResourceExhausted()
    {
        await using var caller = await A.ConnectAsync();
        await using var callee = await B.ConnectAsync();
        string calleeId = await callee.IdAsync();
        var keys = new List<string>();
        for (int i = 0; i < TwoNodeFixture.MaxServerCalls; i++) keys.Add(await caller.SendRequestAsync("push/call", new { connectionId = calleeId, input = i, timeoutMs = 30_000 }));
        var calls = new List<JsonObject>();
        for (int i = 0; i < TwoNodeFixture.MaxServerCalls; i++) calls.Add(await callee.NextServerCallAsync());

        var error = (await caller.CallAsync("push/call", new { connectionId = calleeId })).AssertError("RESOURCE_EXHAUSTED", 429);
        Assert.Contains("MaxServerCallsPerConnection", error.Str("message"));

        foreach (var c in calls) await callee.AnswerAsync(c["id"], c["input"]!.DeepClone());
        for (int i = 0; i < keys.Count; i++) Assert.Equal(i, (await caller.NextAsync(keys[i])).Long("result"));
    }

    [Fact]
    public async Task AServerCallAcrossNodes_ReadsTheResultOnTheCallersNode()
    {
        await using var caller = await A.ConnectAsync();
        await using var callee = await B.ConnectAsync();
        string calleeId = await callee.IdAsync();
        string ok = await caller.SendRequestAsync("push/callInt", new { connectionId = calleeId });
        await callee.AnswerAsync((await callee.NextServerCallAsync())["id"], 7);
        Assert.Equal(7, (await caller.NextAsync(ok)).Long("result"));
        string bad = await caller.SendRequestAsync("push/callInt", new { connectionId = calleeId });
        await callee.AnswerAsync((await callee.NextServerCallAsync())["id"], "seven");
        (await caller.NextAsync(bad)).AssertError("INVALID_ARGUMENT", 400);
    }

    [Fact]
    public async Task AServerCallToAMissingConnectionOfTheOtherNode_IsNotFound()
    {
        await using var caller = await A.ConnectAsync();
        (await caller.CallAsync("push/call", new { connectionId = B.Hub().NodeId + ".999999999" })).AssertError("NOT_FOUND", 404);
        (await caller.CallAsync("push/call", new { connectionId = "zzzzzzzzzz.1" })).AssertError("NOT_FOUND", 404);
    }

    [Fact]
    public async Task ARemoteServerSideSubscribe_ByConnectionId_TakesEffectOnThatNode()
    {
        string topic = PushKit.Unique("srv:");
        await using var admin = await A.ConnectAsync();
        await using var target = await B.ConnectAsync();
        await using var pubB = await B.ConnectAsync();
        string targetId = await target.IdAsync();

        Assert.True(await admin.BoolAsync("push/subscribe", new { connectionId = targetId, topic }));
        Assert.Equal(1, B.Hub().SubscriberCount(topic));
        Assert.Equal(0, A.Hub().SubscriberCount(topic));
        // Answered once the backplane has it: a publish from A right away reaches it.
        await admin.PublishAsync(topic, "from A");
        await target.ExpectEventAsync("test.event", topic, "from A");
        await pubB.PublishAsync(topic, "from B");
        await target.ExpectEventAsync("test.event", topic, "from B");

        Assert.True(await admin.BoolAsync("push/unsubscribe", new { connectionId = targetId, topic }));
        Assert.False(await admin.BoolAsync("push/unsubscribe", new { connectionId = targetId, topic }));
        Assert.Equal(0, B.Hub().SubscriberCount(topic));
        await pubB.PublishAsync(topic, "after");
        await target.AssertNothingPushedAsync("unsubscribed by the other node");

        // No such connection on B: false. A malformed topic: refused before it leaves A.
        Assert.False(await admin.BoolAsync("push/subscribe", new { connectionId = B.Hub().NodeId + ".999999999", topic }));
        (await admin.CallAsync("push/subscribe", new { connectionId = targetId, topic = "bad topic" })).AssertError("INVALID_ARGUMENT", 400);
    }

    [Fact]
    public async Task ARemoteSubscribePastTheLimit_IsResourceExhausted()
    {
        await using var admin = await A.ConnectAsync();
        await using var target = await B.ConnectAsync();
        string targetId = await target.IdAsync();
        for (int i = 0; i < TwoNodeFixture.MaxSubscriptions; i++)
            Assert.True(await admin.BoolAsync("push/subscribe", new { connectionId = targetId, topic = PushKit.Room() }));
        var error = (await admin.CallAsync("push/subscribe", new { connectionId = targetId, topic = PushKit.Room() })).AssertError("RESOURCE_EXHAUSTED", 429);
        Assert.Contains("MaxSubscriptionsPerConnection", error.Str("message"));
        await admin.PingAsync();
    }

    [Fact]
    public async Task ANodeThatLeft_CannotBeReached()
    {
        // A cluster of its own, since a node is stopped.
        var bus = new InMemoryBus();
        await using var a = await PushKit.StartNodeAsync(bus);
        var b = await PushKit.StartNodeAsync(bus);
        string user = PushKit.Unique("gone-"), topic = PushKit.Room();
        await using var onA = await a.ConnectAsync();
        string targetId;
        await using (var onB = await b.ConnectAsync())
        {
            targetId = await onB.IdAsync();
            await onB.SetUserAsync(user);
            await onB.SubscribeAsync(topic);
            Assert.True(await onA.BoolAsync("push/toUser", new { userId = user }));
        }
        string nodeB = b.Hub().NodeId;
        Assert.Contains(nodeB, bus.Nodes);
        await b.DisposeAsync();
        Assert.DoesNotContain(nodeB, bus.Nodes);

        Assert.False(await onA.BoolAsync("push/toConnection", new { connectionId = targetId }));
        Assert.False(await onA.BoolAsync("push/toUser", new { userId = user }));
        (await onA.CallAsync("push/call", new { connectionId = targetId })).AssertError("NOT_FOUND", 404);
        Assert.False(await onA.BoolAsync("push/subscribe", new { connectionId = targetId, topic }));
        await onA.PublishAsync(topic, "nobody left");
        await onA.AssertNothingPushedAsync();
    }
}
