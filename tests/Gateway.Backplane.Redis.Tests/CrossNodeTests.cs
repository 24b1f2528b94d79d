using System.Text.Json.Nodes;
using Gateway.Backplane.Redis.Tests.Infrastructure;
using Gateway.Rpc.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.Backplane.Redis.Tests;

/// <summary>
/// Two real gateway nodes sharing one Redis (Gateway:Backplane:Type=Redis): topic events, directed events, user events,
/// server-to-client calls and remote subscriptions cross from one node to the other, as a client sees them on the wire.
/// </summary>
public sealed class CrossNodeTests(RedisServerFixture fixture, ITestOutputHelper output) : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly GatewayNodes _nodes = new(fixture.Server, output);
    private RpcGateway _a = null!, _b = null!;

    public async Task InitializeAsync()
    {
        _a = await _nodes.StartAsync("A");
        _b = await _nodes.StartAsync("B");
    }

    public async Task DisposeAsync() => await _nodes.DisposeAsync();

    [Fact]
    public async Task A_topic_event_published_on_one_node_reaches_subscribers_on_both_and_no_one_else()
    {
        var a1 = await _nodes.ConnectAsync(_a); // member, the other node
        var a2 = await _nodes.ConnectAsync(_a); // not a member, on the member's node
        var b1 = await _nodes.ConnectAsync(_b); // the sender, not a member
        var b2 = await _nodes.ConnectAsync(_b); // member, the sender's node
        Assert.Equal("room:lobby", (await a1.ResultAsync("chat/join", new { room = "lobby" })).Str("topic"));
        await b2.ResultAsync("chat/join", new { room = "lobby" });
        await a2.ResultAsync("chat/join", new { room = "elsewhere" });

        var sent = await b1.ResultAsync("chat/send", new { room = "lobby", text = "hello from B" });
        Assert.Equal("room:lobby", sent.Str("topic"));

        var onA = await a1.NextEventAsync("chat.message");
        Assert.Equal("room:lobby", onA.Str("topic"));
        Assert.Equal("lobby", onA["data"].Str("room"));
        Assert.Equal("hello from B", onA["data"].Str("text"));
        Assert.Equal(await GatewayNodes.ConnectionIdAsync(b1), onA["data"].Str("from"));
        var onB = await b2.NextEventAsync("chat.message");
        Assert.Equal("hello from B", onB["data"].Str("text"));

        // Everything node A queued before a2's pong has been written to a2: a misrouted copy would be in front of it.
        await a2.PingAsync();
        await b1.PingAsync();
        Assert.Empty(a2.EventsNamed("chat.message"));
        Assert.Empty(b1.EventsNamed("chat.message"));
        Assert.Single(a1.EventsNamed("chat.message"));

        // And the other way round, A to B.
        await a1.ResultAsync("chat/send", new { room = "lobby", text = "hello from A" });
        var back = await b2.NextEventAsync("chat.message");
        Assert.Equal("hello from A", back["data"].Str("text"));
    }

    [Fact]
    public async Task A_broadcast_reaches_every_connection_on_both_nodes()
    {
        var a1 = await _nodes.ConnectAsync(_a);
        var b1 = await _nodes.ConnectAsync(_b);
        await a1.ResultAsync("push/broadcast", new { @event = "all.hands", data = new { n = 1 } });
        var onB = await b1.NextEventAsync("all.hands");
        Assert.Null(onB["topic"]);
        Assert.Equal(1, onB["data"].Long("n"));
        await a1.NextEventAsync("all.hands");
    }

    [Fact]
    public async Task A_directed_event_crosses_nodes()
    {
        var a1 = await _nodes.ConnectAsync(_a);
        var b1 = await _nodes.ConnectAsync(_b);
        var b2 = await _nodes.ConnectAsync(_b);
        string b1Id = await GatewayNodes.ConnectionIdAsync(b1);
        Assert.StartsWith(GatewayNodes.NodeId(_b) + ".", b1Id);

        var queued = await a1.ResultAsync("push/toConnection", new { connectionId = b1Id, @event = "note", data = new { text = "just for b1" } });
        Assert.True(queued!.GetValue<bool>());
        var e = await b1.NextEventAsync("note");
        Assert.Equal("just for b1", e["data"].Str("text"));
        Assert.False(e.ContainsKey("topic"), "a directed event has no topic");
        await b2.PingAsync();
        Assert.Empty(b2.EventsNamed("note"));

        // A connection id whose node is not in the cluster: nobody to hand it to.
        var nowhere = await a1.ResultAsync("push/toConnection", new { connectionId = "nonode00000.1", @event = "note", data = 1 });
        Assert.False(nowhere!.GetValue<bool>());
    }

    [Fact]
    public async Task A_user_event_crosses_nodes()
    {
        var a1 = await _nodes.ConnectAsync(_a);
        var a2 = await _nodes.ConnectAsync(_a);
        var b1 = await _nodes.ConnectAsync(_b);
        var b2 = await _nodes.ConnectAsync(_b);
        var login = await b1.ResultAsync("chat/login", new { user = "alice" });
        Assert.Equal("alice", login.Str("userId"));
        Assert.Equal(GatewayNodes.NodeId(_b), login.Str("nodeId"));
        // The same user on the other node as well: both connections get it.
        await a2.ResultAsync("chat/login", new { user = "alice" });
        await b2.ResultAsync("chat/login", new { user = "bob" });

        var dm = await a1.ResultAsync("chat/dm", new { user = "alice", text = "psst" });
        Assert.Equal(true, dm.Bool("delivered"));
        var onB = await b1.NextEventAsync("chat.direct");
        Assert.Equal("psst", onB["data"].Str("text"));
        Assert.Equal(await GatewayNodes.ConnectionIdAsync(a1), onB["data"].Str("from"));
        var onA = await a2.NextEventAsync("chat.direct");
        Assert.Equal("psst", onA["data"].Str("text"));
        await b2.PingAsync();
        Assert.Empty(b2.EventsNamed("chat.direct"));
        Assert.Single(b1.EventsNamed("chat.direct"));

        var nobody = await a1.ResultAsync("chat/dm", new { user = "nobody", text = "hello?" });
        Assert.Equal(false, nobody.Bool("delivered"));

        // After logging out (closing) on B, the user is only on A.
        await b1.DisposeAsync();
        Assert.True(await _b.WaitForConnectionCountAsync(1));
        var b3 = await _nodes.ConnectAsync(_b);
        var again = await b3.ResultAsync("chat/dm", new { user = "alice", text = "still there?" });
        Assert.Equal(true, again.Bool("delivered"));
        Assert.Equal("still there?", (await a2.NextEventAsync("chat.direct"))["data"].Str("text"));
    }

    [Fact]
    public async Task A_server_to_client_call_crosses_nodes_and_returns_the_clients_result()
    {
        var a1 = await _nodes.ConnectAsync(_a);
        var b1 = await _nodes.ConnectAsync(_b);
        string b1Id = await GatewayNodes.ConnectionIdAsync(b1);

        string key = await a1.SendRequestAsync("push/call", new { connectionId = b1Id, path = "client/echo", input = new { x = 42 }, timeoutMs = 10000 });
        var call = await b1.NextServerCallAsync();
        Assert.Equal("client/echo", call.Str("path"));
        Assert.Equal(42, call["input"].Long("x"));
        Assert.Equal(System.Text.Json.JsonValueKind.Number, JsonValueKindOf(call["id"]));
        await b1.SendJsonAsync(new JsonObject { ["id"] = call["id"]!.DeepClone(), ["result"] = new JsonObject { ["echoed"] = 42 } });

        var reply = (await a1.ReadUntilTerminalAsync(key))[^1];
        Assert.True(reply.IsResult(), reply.ToJsonString());
        Assert.Equal(42, reply["result"].Long("echoed"));
    }

    [Fact]
    public async Task A_server_to_client_call_crosses_nodes_and_returns_the_clients_error()
    {
        var a1 = await _nodes.ConnectAsync(_a);
        var b1 = await _nodes.ConnectAsync(_b);
        string b1Id = await GatewayNodes.ConnectionIdAsync(b1);

        string key = await a1.SendRequestAsync("push/call", new { connectionId = b1Id, path = "client/lookup", input = "x", timeoutMs = 10000 });
        var call = await b1.NextServerCallAsync();
        await b1.SendJsonAsync(new JsonObject
        {
            ["id"] = call["id"]!.DeepClone(),
            ["error"] = new JsonObject { ["code"] = "NOT_FOUND", ["status"] = 404, ["message"] = "no such thing here", ["retryable"] = false },
        });

        var reply = (await a1.ReadUntilTerminalAsync(key))[^1];
        var error = reply.AssertError("NOT_FOUND", 404);
        Assert.Equal("no such thing here", error.Str("message"));
    }

    [Fact]
    public async Task A_server_to_client_call_that_times_out_cancels_the_call_on_the_client()
    {
        var a1 = await _nodes.ConnectAsync(_a);
        var b1 = await _nodes.ConnectAsync(_b);
        string b1Id = await GatewayNodes.ConnectionIdAsync(b1);

        string key = await a1.SendRequestAsync("push/call", new { connectionId = b1Id, path = "client/slow", timeoutMs = 500 });
        var call = await b1.NextServerCallAsync();
        string callKey = RpcClient.Key(call["id"]);
        // b1 does not answer.
        var reply = (await a1.ReadUntilTerminalAsync(key))[^1];
        reply.AssertError("DEADLINE_EXCEEDED", 504);

        // The cancel crosses back to the client, on the id's channel (the call itself came on the server-call channel).
        var cancel = await b1.NextAsync(callKey);
        Assert.Equal(true, cancel.Bool("cancel"));
        Assert.False(cancel.ContainsKey("path"));

        // A late answer is ignored, exactly one cancel was sent, and the connection still serves calls.
        await b1.SendJsonAsync(new JsonObject { ["id"] = call["id"]!.DeepClone(), ["result"] = "too late" });
        await b1.PingAsync();
        Assert.Equal(2, b1.ReceivedFor(callKey).Count);
        string key2 = await a1.SendRequestAsync("push/call", new { connectionId = b1Id, path = "client/echo", input = 7, timeoutMs = 10000 });
        var call2 = await b1.NextServerCallAsync();
        await b1.SendJsonAsync(new JsonObject { ["id"] = call2["id"]!.DeepClone(), ["result"] = 7 });
        Assert.Equal(7, (await a1.ReadUntilTerminalAsync(key2))[^1]["result"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_server_to_client_call_whose_connection_closes_mid_call_fails_UNAVAILABLE()
    {
        var a1 = await _nodes.ConnectAsync(_a);
        var b1 = await _nodes.ConnectAsync(_b);
        string b1Id = await GatewayNodes.ConnectionIdAsync(b1);

        string key = await a1.SendRequestAsync("push/call", new { connectionId = b1Id, path = "client/echo", input = 1, timeoutMs = 30000 });
        await b1.NextServerCallAsync();
        await b1.DisposeAsync(); // a close handshake while the call waits for its answer

        var reply = (await a1.ReadUntilTerminalAsync(key))[^1];
        reply.AssertError("UNAVAILABLE", 503);

        // A call to a connection that no longer exists on its node.
        var gone = await a1.CallAsync("push/call", new { connectionId = b1Id, path = "client/echo", timeoutMs = 5000 });
        gone.AssertError("NOT_FOUND", 404);
    }

    [Fact]
    public async Task A_remote_server_side_subscribe_and_unsubscribe_of_a_connection_on_the_other_node()
    {
        var a1 = await _nodes.ConnectAsync(_a);
        var b1 = await _nodes.ConnectAsync(_b);
        string b1Id = await GatewayNodes.ConnectionIdAsync(b1);
        Assert.Equal(0, GatewayNodes.Hub(_b).SubscriberCount("open:news"));

        var subscribed = await a1.ResultAsync("push/subscribe", new { connectionId = b1Id, topic = "open:news" });
        Assert.True(subscribed!.GetValue<bool>());
        Assert.Equal(1, GatewayNodes.Hub(_b).SubscriberCount("open:news"));
        // A subscribes itself too, so the publish from A is seen locally and crosses to B.
        await a1.ResultAsync("push/subscribe", new { topic = "open:news" });

        await a1.ResultAsync("push/publish", new { topic = "open:news", @event = "news", data = new { n = 1 } });
        var e = await b1.NextEventAsync("news");
        Assert.Equal("open:news", e.Str("topic"));
        Assert.Equal(1, e["data"].Long("n"));
        await a1.NextEventAsync("news");

        var unsubscribed = await a1.ResultAsync("push/unsubscribe", new { connectionId = b1Id, topic = "open:news" });
        Assert.True(unsubscribed!.GetValue<bool>());
        Assert.Equal(0, GatewayNodes.Hub(_b).SubscriberCount("open:news"));
        await a1.ResultAsync("push/publish", new { topic = "open:news", @event = "news", data = new { n = 2 } });
        await a1.NextEventAsync(m => m["data"].Long("n") == 2, "news 2 on A");
        // A directed event after it, as a barrier on b1's wire.
        await a1.ResultAsync("push/toConnection", new { connectionId = b1Id, @event = "barrier", data = 0 });
        await b1.NextEventAsync("barrier");
        Assert.Single(b1.EventsNamed("news"));

        // Unknown connection on the other node: false, no error.
        var unknown = await a1.ResultAsync("push/subscribe", new { connectionId = GatewayNodes.NodeId(_b) + ".999999", topic = "open:news" });
        Assert.False(unknown!.GetValue<bool>());
    }

    [Fact]
    public async Task A_node_that_left_cleanly_is_gone_for_users_connections_and_calls()
    {
        var a1 = await _nodes.ConnectAsync(_a);
        var b1 = await _nodes.ConnectAsync(_b);
        await b1.ResultAsync("chat/login", new { user = "erin" });
        string b1Id = await GatewayNodes.ConnectionIdAsync(b1);
        Assert.Equal(true, (await a1.ResultAsync("chat/dm", new { user = "erin", text = "1" })).Bool("delivered"));

        await _nodes.StopAsync(_b); // drains and closes its connections, then leaves the cluster
        Assert.Empty(await GatewayNodes.Hub(_a).Backplane.GetUserNodesAsync("erin", CancellationToken.None));
        Assert.Equal(false, (await a1.ResultAsync("chat/dm", new { user = "erin", text = "2" })).Bool("delivered"));
        Assert.False((await a1.ResultAsync("push/toConnection", new { connectionId = b1Id, @event = "x", data = 0 }))!.GetValue<bool>());
        var call = await a1.CallAsync("push/call", new { connectionId = b1Id, path = "client/echo", timeoutMs = 5000 });
        call.AssertError("NOT_FOUND", 404);
        Assert.Contains("gone", call["error"].Str("message"));
    }

    [Fact]
    public async Task A_node_that_died_without_leaving_is_forgotten_by_the_first_event_to_its_user()
    {
        var a1 = await _nodes.ConnectAsync(_a);
        var b1 = await _nodes.ConnectAsync(_b);
        await b1.ResultAsync("chat/login", new { user = "dave" });
        Assert.Equal(true, (await a1.ResultAsync("chat/dm", new { user = "dave", text = "1" })).Bool("delivered"));
        var hubA = GatewayNodes.Hub(_a);

        // B's process "dies": its Redis connection drops, nothing is cleaned up by B itself.
        ((RedisBackplane)GatewayNodes.Hub(_b).Backplane).Multiplexer!.Dispose();

        // Whether A's heartbeat noticed first or not: nobody listens on B's channel, so the event is not delivered
        // and B is removed from the user's registration.
        Assert.Equal(false, (await a1.ResultAsync("chat/dm", new { user = "dave", text = "2" })).Bool("delivered"));
        Assert.Empty(await hubA.Backplane.GetUserNodesAsync("dave", CancellationToken.None));
        // A itself is unaffected.
        await a1.ResultAsync("chat/login", new { user = "dave" });
        Assert.Equal([GatewayNodes.NodeId(_a)], await hubA.Backplane.GetUserNodesAsync("dave", CancellationToken.None));
    }

    private static System.Text.Json.JsonValueKind JsonValueKindOf(JsonNode? node) => node?.GetValueKind() ?? System.Text.Json.JsonValueKind.Null;
}
