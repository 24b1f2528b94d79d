using Gateway.Tests.Shared;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests.Push;

/// <summary>
/// Events without a topic: to one connection (IConnections.SendEventAsync), to every connection of a user
/// (SendEventToUserAsync, following user changes), and to everyone (BroadcastAsync). Direct events carry no topic member.
/// </summary>
public sealed class DirectEventTests(PushGatewayFixture fixture) : IClassFixture<PushGatewayFixture>
{
    private RpcGateway Gateway => fixture.Gateway;

    [Fact]
    public async Task ToConnection_ReachesThatConnectionOnly_AndAnswersTrue()
    {
        await using var target = await Gateway.ConnectAsync();
        await using var bystander = await Gateway.ConnectAsync();
        await using var sender = await Gateway.ConnectAsync();
        string targetId = await target.IdAsync();
        Assert.StartsWith(Gateway.Hub().NodeId + ".", targetId);

        Assert.True(await sender.BoolAsync("push/toConnection", new { connectionId = targetId, @event = "test.direct", data = new { x = 1 } }));

        await target.ExpectEventAsync("test.direct", topic: null, new { x = 1 });
        await target.AssertNothingPushedAsync("one event");
        await bystander.AssertNothingPushedAsync("not the target");
        await sender.AssertNothingPushedAsync("not the target");
    }

    [Fact]
    public async Task ToConnection_ToItself_Works()
    {
        await using var client = await Gateway.ConnectAsync();
        Assert.True(await client.BoolAsync("push/toConnection", new { connectionId = await client.IdAsync(), @event = "self", data = "me" }));
        await client.ExpectEventAsync("self", null, "me");
    }

    [Theory]
    [InlineData("")]
    [InlineData("nodot")]
    [InlineData(".5")]
    [InlineData("node.")]
    [InlineData("node.-1")]
    [InlineData("node.abc")]
    [InlineData("node.1.x")]
    [InlineData("nosuchnode.1")]   // well-formed, but no node by that id
    public async Task ToConnection_WithAMalformedOrUnknownId_AnswersFalse(string connectionId)
    {
        await using var sender = await Gateway.ConnectAsync();
        Assert.False(await sender.BoolAsync("push/toConnection", new { connectionId, @event = "test.direct", data = 1 }));
        await sender.AssertNothingPushedAsync();
    }

    [Fact]
    public async Task ToConnection_AnUnknownOrClosedConnectionOfThisNode_AnswersFalse()
    {
        await using var sender = await Gateway.ConnectAsync();
        string node = Gateway.Hub().NodeId;
        Assert.False(await sender.BoolAsync("push/toConnection", new { connectionId = node + ".999999999", @event = "e", data = 1 }));

        var gone = await Gateway.ConnectAsync();
        string goneId = await gone.IdAsync();
        Assert.True(await sender.BoolAsync("push/toConnection", new { connectionId = goneId, @event = "e", data = 1 }));
        await gone.DisposeAsync();
        // The server notices the close on its own schedule: poll (bounded) until that id reaches nobody.
        Assert.True(await Waits.WaitUntilAsync(async () => !await sender.BoolAsync("push/toConnection", new { connectionId = goneId, @event = "e", data = 1 })),
            "a closed connection's id still answered true");
        (await sender.CallAsync("push/toConnection", new { connectionId = goneId, @event = "", data = 1 })).AssertError("INVALID_ARGUMENT", 400);
    }

    [Fact]
    public async Task ToUser_ReachesEveryConnectionOfThatUser_AndNoOtherConnection()
    {
        string alice = PushKit.Unique("alice-"), bob = PushKit.Unique("bob-");
        await using var a1 = await Gateway.ConnectAsync();
        await using var a2 = await Gateway.ConnectAsync();
        await using var b = await Gateway.ConnectAsync();
        await using var anonymous = await Gateway.ConnectAsync();
        await a1.SetUserAsync(alice);
        await a2.SetUserAsync(alice);
        await b.SetUserAsync(bob);
        Assert.Equal(2, Gateway.Hub().UserConnectionCount(alice));

        Assert.True(await anonymous.BoolAsync("push/toUser", new { userId = alice, @event = "test.user", data = "for alice" }));
        await a1.ExpectEventAsync("test.user", null, "for alice");
        await a2.ExpectEventAsync("test.user", null, "for alice");
        foreach (var c in new[] { a1, a2, b, anonymous }) await c.AssertNothingPushedAsync();

        Assert.False(await anonymous.BoolAsync("push/toUser", new { userId = PushKit.Unique("nobody-"), @event = "test.user", data = 1 }));
        foreach (var c in new[] { a1, a2, b, anonymous }) await c.AssertNothingPushedAsync("a user with no connection");
    }

    [Fact]
    public async Task ToUser_FollowsUserChanges_TheOldUserNoLongerReachesIt()
    {
        string alice = PushKit.Unique("alice-"), bob = PushKit.Unique("bob-");
        await using var a1 = await Gateway.ConnectAsync();
        await using var a2 = await Gateway.ConnectAsync();
        await using var b = await Gateway.ConnectAsync();
        await using var sender = await Gateway.ConnectAsync();
        await a1.SetUserAsync(alice);
        await a2.SetUserAsync(alice);
        await b.SetUserAsync(bob);

        // a2 becomes bob.
        await a2.SetUserAsync(bob);
        Assert.Equal(1, Gateway.Hub().UserConnectionCount(alice));
        Assert.Equal(2, Gateway.Hub().UserConnectionCount(bob));
        Assert.True(await sender.BoolAsync("push/toUser", new { userId = alice, @event = "e", data = "alice" }));
        await a1.ExpectEventAsync("e", null, "alice");
        await a2.AssertNothingPushedAsync("no longer alice");
        Assert.True(await sender.BoolAsync("push/toUser", new { userId = bob, @event = "e", data = "bob" }));
        await a2.ExpectEventAsync("e", null, "bob");
        await b.ExpectEventAsync("e", null, "bob");
        await a1.AssertNothingPushedAsync("not bob");

        // a1 becomes nobody (setter, not awaited: the local index changes at once).
        var now = await a1.ResultAsync("push/setUserNow", new { userId = (string?)null });
        Assert.Null(now);
        Assert.Equal(0, Gateway.Hub().UserConnectionCount(alice));
        Assert.False(await sender.BoolAsync("push/toUser", new { userId = alice, @event = "e", data = "nobody" }));
        foreach (var c in new[] { a1, a2, b, sender }) await c.AssertNothingPushedAsync("alice has no connection");

        // The setter registers locally at once too.
        Assert.Equal(alice, (await a1.ResultAsync("push/setUserNow", new { userId = alice }))?.GetValue<string>());
        Assert.True(await sender.BoolAsync("push/toUser", new { userId = alice, @event = "e", data = "back" }));
        await a1.ExpectEventAsync("e", null, "back");
    }

    [Fact]
    public async Task ChatSample_LoginAndDirectMessage()
    {
        string carol = PushKit.Unique("carol-");
        await using var c1 = await Gateway.ConnectAsync();
        await using var c2 = await Gateway.ConnectAsync();
        await using var dave = await Gateway.ConnectAsync();
        var who = await c1.ResultAsync("chat/login", new { user = carol });
        Assert.Equal(carol, who.Str("userId"));
        Assert.Equal(Gateway.Hub().NodeId, who.Str("nodeId"));
        Assert.Equal(await c1.IdAsync(), who.Str("connectionId"));
        await c2.ResultAsync("chat/login", new { user = carol });
        await dave.ResultAsync("chat/login", new { user = "dave" });
        Assert.Equal("dave", (await dave.ResultAsync("chat/whoami")).Str("userId"));

        var sent = await dave.ResultAsync("chat/dm", new { user = carol, text = "psst" });
        Assert.True(sent.Bool("delivered"));
        foreach (var c in new[] { c1, c2 })
        {
            var e = await c.ExpectEventAsync("chat.direct", null, data: null);
            Assert.Equal("dave", e["data"].Str("from"));
            Assert.Equal("psst", e["data"].Str("text"));
        }
        await dave.AssertNothingPushedAsync();
        Assert.False((await dave.ResultAsync("chat/dm", new { user = PushKit.Unique("nobody-"), text = "?" })).Bool("delivered"));
    }

    [Fact]
    public async Task Broadcast_ReachesEveryConnection_OnceEach()
    {
        // A gateway of its own, so "every connection" is exactly these.
        await using var gateway = await PushKit.StartAsync();
        var clients = new List<RpcClient>();
        try
        {
            for (int i = 0; i < 4; i++) clients.Add(await gateway.ConnectAsync());
            await clients[1].SubscribeAsync(PushKit.Room()); // subscriptions do not matter
            await clients[2].SetUserAsync(PushKit.Unique("u-"));

            var reply = await clients[0].CallAsync("push/broadcast", new { @event = "test.all", data = new { hello = "everyone" } });
            Assert.True(reply.ContainsKey("result"), reply.ToJsonString());

            foreach (var c in clients)
            {
                await c.ExpectEventAsync("test.all", null, new { hello = "everyone" });
                await c.AssertNothingPushedAsync("one broadcast, one event");
            }
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
    }
}
