using Gateway.Backplane.Redis.Tests.Infrastructure;
using Gateway.Rpc.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.Backplane.Redis.Tests;

using Map = Dictionary<object, object?>;

/// <summary>
/// Two gateway nodes on one real Redis with JSON and MessagePack clients on both: JSON stays the canonical form
/// between nodes, each node converts at its MessagePack connections' edge, so what a client receives does not depend
/// on where the publisher or the caller was.
/// </summary>
public sealed class MessagePackCrossNodeTests(RedisServerFixture fixture, ITestOutputHelper output) : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly GatewayNodes _nodes = new(fixture.Server, output);
    private readonly List<MsgPackClient> _msgpack = [];
    private RpcGateway _a = null!, _b = null!;

    public async Task InitializeAsync()
    {
        _a = await _nodes.StartAsync("A");
        _b = await _nodes.StartAsync("B");
    }

    public async Task DisposeAsync()
    {
        foreach (var c in _msgpack) await c.DisposeAsync();
        await _nodes.DisposeAsync();
    }

    private async Task<MsgPackClient> ConnectMsgPackAsync(RpcGateway gateway)
    {
        var client = await MsgPackClient.ConnectAsync(gateway.Uri);
        _msgpack.Add(client);
        return client;
    }

    [Fact]
    public async Task A_topic_with_json_and_msgpack_subscribers_on_two_nodes_gets_every_event_in_order()
    {
        var jsonA = await _nodes.ConnectAsync(_a);
        var jsonB = await _nodes.ConnectAsync(_b);
        var packA = await ConnectMsgPackAsync(_a);
        var packB = await ConnectMsgPackAsync(_b);
        var publisher = await _nodes.ConnectAsync(_a);
        await jsonA.ResultAsync("chat/join", new { room = "mixed" });
        await jsonB.ResultAsync("chat/join", new { room = "mixed" });
        await packA.ResultAsync("chat/join", new Dictionary<string, object?> { ["room"] = "mixed" });
        await packB.ResultAsync("chat/join", new Dictionary<string, object?> { ["room"] = "mixed" });

        const int count = 20;
        for (int i = 0; i < count; i++)
        {
            // One publisher on node A: every subscriber, either format, either node, sees the publishing order.
            await publisher.ResultAsync("chat/send", new { room = "mixed", text = "m" + i });
        }
        foreach (var json in new[] { jsonA, jsonB })
        {
            for (int i = 0; i < count; i++) Assert.Equal("m" + i, (await json.NextEventAsync("chat.message"))["data"].Str("text"));
        }
        var fromA = new List<Map>();
        var fromB = new List<Map>();
        for (int i = 0; i < count; i++)
        {
            fromA.Add(await packA.NextEventAsync());
            fromB.Add(await packB.NextEventAsync());
        }
        for (int i = 0; i < count; i++)
        {
            Assert.Equal("m" + i, Assert.IsType<Map>(fromA[i]["data"])["text"]);
            Assert.Equal("m" + i, Assert.IsType<Map>(fromB[i]["data"])["text"]);
            // The same bytes' meaning on both nodes: the publisher's node and the other one.
            Assert.Equal(MsgPackClient.Describe(fromA[i]), MsgPackClient.Describe(fromB[i]));
            Assert.Equal("room:mixed", fromB[i]["topic"]);
        }
        Assert.True(packA.OnlyBinaryFrames && packB.OnlyBinaryFrames);
    }

    [Fact]
    public async Task A_server_call_from_the_other_node_is_answered_in_msgpack()
    {
        var caller = await _nodes.ConnectAsync(_a);
        var target = await ConnectMsgPackAsync(_b);
        string targetId = (string)(await target.ResultAsync("push/whoami"))!;
        string key = await caller.SendRequestAsync("push/call", new { connectionId = targetId, path = "client/echo", input = new { x = 42, tags = new[] { "a" } }, timeoutMs = 10000 });
        var call = await target.NextServerCallAsync();
        Assert.Equal("client/echo", call["path"]);
        var input = Assert.IsType<Map>(call["input"]);
        Assert.Equal(42, Convert.ToInt32(input["x"]));
        await target.SendAsync(new Dictionary<string, object?> { ["id"] = call["id"], ["result"] = new Dictionary<string, object?> { ["got"] = input["x"], ["bin"] = new byte[] { 1, 2 } } });
        var reply = await caller.NextAsync(key);
        Assert.Equal(42, reply["result"]!["got"]!.GetValue<int>());
        // bin crosses as canonical JSON: base64.
        Assert.Equal("AQI=", reply["result"]!["bin"]!.GetValue<string>());

        key = await caller.SendRequestAsync("push/call", new { connectionId = targetId, path = "client/fail", timeoutMs = 10000 });
        call = await target.NextServerCallAsync();
        await target.SendAsync(new Dictionary<string, object?>
        {
            ["id"] = call["id"],
            ["error"] = new Dictionary<string, object?> { ["code"] = "NOT_FOUND", ["status"] = 404, ["message"] = "nothing here", ["retryable"] = false, ["details"] = new Dictionary<string, object?> { ["k"] = 1 } },
        });
        var error = (await caller.NextAsync(key))["error"]!;
        Assert.Equal("NOT_FOUND", error.Str("code"));
        Assert.Equal("nothing here", error.Str("message"));
        Assert.Equal(1, error["details"]!["k"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_directed_event_from_the_other_node_reaches_a_msgpack_connection()
    {
        var sender = await _nodes.ConnectAsync(_a);
        var target = await ConnectMsgPackAsync(_b);
        string targetId = (string)(await target.ResultAsync("push/whoami"))!;
        Assert.True((await sender.ResultAsync("push/toConnection", new { connectionId = targetId, @event = "direct", data = new { n = 7 } }))!.GetValue<bool>());
        var e = await target.NextEventAsync();
        Assert.Equal("direct", e["event"]);
        Assert.Equal(7, Convert.ToInt32(Assert.IsType<Map>(e["data"])["n"]));
    }
}
