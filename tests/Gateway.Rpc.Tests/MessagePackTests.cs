using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests;

using Map = Dictionary<object, object?>;

/// <summary>
/// gateway.v1.msgpack over real sockets: every message kind, ids in their own type, bin and timestamps, the
/// System.Text.Json contract (names, ignore conditions, records, required members), errors with details, server calls
/// answered in MessagePack, events and topics, against a client that decodes with the library's dynamic formatter.
/// </summary>
public sealed class MessagePackTests(MessagePackTests.Fixture fixture) : IClassFixture<MessagePackTests.Fixture>
{
    public sealed class Fixture : IAsyncLifetime
    {
        public RpcGateway Gateway { get; private set; } = null!;
        public async Task InitializeAsync() => Gateway = await RpcGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Topics:ClientSubscribe:0"] = "room:*" });
        public async Task DisposeAsync() => await Gateway.DisposeAsync();
    }

    private Task<MsgPackClient> ConnectAsync() => MsgPackClient.ConnectAsync(fixture.Gateway.Uri);

    private static Map AsMap(object? value) => Assert.IsType<Map>(value);

    [Fact]
    public async Task Ping_AnswersWithTheIdInTheTypeItWasSent()
    {
        await using var client = await ConnectAsync();
        foreach (object id in new object[] { "p1", 7, -3, 1L << 40, "7" })
        {
            string key = await client.SendRequestAsync("$ping", id: id);
            var reply = await client.NextAsync(key);
            Assert.Equal("pong", reply["result"]);
            if (id is string s) Assert.Equal(s, Assert.IsType<string>(reply["id"]));
            else
            {
                Assert.IsNotType<string>(reply["id"]);
                Assert.Equal(Convert.ToInt64(id), Convert.ToInt64(reply["id"]));
            }
        }
        Assert.True(client.OnlyBinaryFrames);
    }

    [Fact]
    public async Task Describe_IsEncodedAsMessagePack()
    {
        await using var client = await ConnectAsync();
        var result = await client.ResultAsync("$describe");
        string text = MsgPackClient.Describe(result);
        Assert.Contains("\"echo/echo\"", text);
        Assert.Contains("\"blob/echo\"", text);
    }

    [Fact]
    public async Task Echo_ReturnsAnyValueUnchanged()
    {
        await using var client = await ConnectAsync();
        var input = new Dictionary<string, object?> { ["a"] = 1, ["b"] = new object?[] { true, null, "x", -5, 1.5 }, ["c"] = new Dictionary<string, object?> { ["d"] = "é😀" } };
        var result = AsMap(await client.ResultAsync("echo/echo", input));
        Assert.Equal(1, Convert.ToInt32(result["a"]));
        var b = Assert.IsType<object?[]>(result["b"]);
        Assert.Equal(true, b[0]);
        Assert.Null(b[1]);
        Assert.Equal("x", b[2]);
        Assert.Equal(-5, Convert.ToInt32(b[3]));
        Assert.Equal(1.5, Convert.ToDouble(b[4]));
        Assert.Equal("é😀", AsMap(result["c"])["d"]);
        Assert.Equal("hello", await client.ResultAsync("echo/echo", "hello"));
        Assert.Null(await client.ResultAsync("echo/echo"));
    }

    [Fact]
    public async Task Bytes_AreBin_AndTimesAreTimestamps()
    {
        await using var client = await ConnectAsync();
        var data = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var at = new DateTime(2026, 12, 6, 7, 8, 9, DateTimeKind.Utc).AddTicks(1234567);
        var result = AsMap(await client.ResultAsync("blob/echo", new Dictionary<string, object?> { ["data"] = data, ["at"] = at, ["name"] = "n" }));
        Assert.Equal(data, Assert.IsType<byte[]>(result["data"]));
        Assert.Equal(at, Assert.IsType<DateTime>(result["at"]));
        Assert.Equal("n", result["name"]);

        var big = RandomNumberGenerator.GetBytes(200_000);
        var info = AsMap(await client.ResultAsync("blob/info", new Dictionary<string, object?> { ["data"] = big }));
        Assert.Equal(big.Length, Convert.ToInt32(info["length"]));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(big)), info["sha256"]);
    }

    [Fact]
    public async Task Types_FollowTheJsonContract()
    {
        await using var client = await ConnectAsync();
        var guid = Guid.NewGuid();
        var input = new Dictionary<string, object?>
        {
            ["data"] = new byte[] { 1, 2, 3 },
            ["memory"] = new byte[] { 9 },
            ["when"] = new DateTime(2000, 1, 2, 3, 4, 5, DateTimeKind.Utc),
            ["at"] = new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc),
            ["custom_name"] = "renamed",
            ["ratio"] = 0.1,
            ["small"] = 2.5,
            ["price"] = 12,
            ["big"] = long.MaxValue,
            ["maybe"] = null,
            ["flag"] = true,
            ["id"] = guid.ToString(),
            ["span"] = "00:00:01.5000000",
            ["shade"] = 1,
            ["mood"] = "Busy",
            ["tags"] = new[] { "a", "b" },
            ["numbers"] = new[] { 1, 300, 70000 },
            ["counts"] = new Dictionary<string, object?> { ["x"] = 1 },
            ["point"] = new Dictionary<string, object?> { ["x"] = 3, ["y"] = 4 },
            ["any"] = new Dictionary<string, object?> { ["deep"] = new object[] { 1, "two" } },
            ["unknown"] = "ignored",
        };
        var r = AsMap(await client.ResultAsync("wire/types", input));
        Assert.Equal(new byte[] { 1, 2, 3 }, r["data"]);
        Assert.Equal(new byte[] { 9 }, r["memory"]);
        Assert.Equal(new DateTime(2000, 1, 2, 3, 4, 5, DateTimeKind.Utc), r["when"]);
        Assert.Equal(new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc), r["at"]);
        Assert.Equal("renamed", r["custom_name"]);
        Assert.False(r.ContainsKey("renamed"));
        Assert.Equal(0.1, Assert.IsType<double>(r["ratio"]));
        Assert.Equal(2.5f, Convert.ToSingle(r["small"]));
        Assert.Equal(12, Convert.ToInt32(r["price"]));
        Assert.Equal(long.MaxValue, Convert.ToInt64(r["big"]));
        Assert.True(r.ContainsKey("maybe") && r["maybe"] is null);
        Assert.Equal(true, r["flag"]);
        Assert.Equal(guid.ToString(), r["id"]);
        Assert.Equal("00:00:01.5000000", r["span"]);
        Assert.Equal(1, Convert.ToInt32(r["shade"]));
        Assert.Equal("Busy", r["mood"]);
        Assert.Equal(new object[] { "a", "b" }, Assert.IsType<object[]>(r["tags"]));
        Assert.Equal(new long[] { 1, 300, 70000 }, Assert.IsType<object[]>(r["numbers"]).Select(Convert.ToInt64).ToArray());
        Assert.Equal(1, Convert.ToInt32(AsMap(r["counts"])["x"]));
        var point = AsMap(r["point"]);
        Assert.Equal(3, Convert.ToInt32(point["x"]));
        Assert.Equal("origin", point["label"]);
        Assert.Equal("two", Assert.IsType<object[]>(AsMap(r["any"])["deep"])[1]);
        Assert.False(r.ContainsKey("omitted"));
        Assert.False(r.ContainsKey("unknown"));
    }

    [Fact]
    public async Task Numbers_UseTheSmallestEncoding()
    {
        await using var client = await ConnectAsync();
        string key = await client.SendRequestAsync("wire/types", new Dictionary<string, object?> { ["ratio"] = 3.0, ["small"] = 0.5, ["big"] = 5 }, id: 1);
        await client.NextAsync(key);
        // The raw reply: a float that is an integer is written as an int; the client decodes an int type, not double.
        var r = AsMap((await client.CallAsync("wire/types", new Dictionary<string, object?> { ["ratio"] = 3.0, ["big"] = 5 }))["result"]);
        Assert.IsNotType<double>(r["ratio"]);
        Assert.IsType<byte>(r["big"]);
    }

    [Fact]
    public async Task Records_UseTheirConstructor_AndRequiredMembersAreChecked()
    {
        await using var client = await ConnectAsync();
        var point = AsMap(await client.ResultAsync("wire/point", new Dictionary<string, object?> { ["x"] = 1, ["y"] = 2 }));
        Assert.Equal("origin", point["label"]);
        point = AsMap(await client.ResultAsync("wire/point", new Dictionary<string, object?> { ["x"] = 1, ["y"] = 2, ["label"] = "L" }));
        Assert.Equal("L", point["label"]);

        var error = await client.ErrorAsync("wire/strict", new Dictionary<string, object?> { ["age"] = 3 });
        Assert.Equal("INVALID_ARGUMENT", error["code"]);
        Assert.Contains("name", (string)error["message"]!);
        var ok = AsMap(await client.ResultAsync("wire/strict", new Dictionary<string, object?> { ["name"] = "n", ["age"] = 3 }));
        Assert.Equal("n", ok["name"]);
    }

    [Fact]
    public async Task InputOfTheWrongType_IsInvalidArgumentNamingTheMember()
    {
        await using var client = await ConnectAsync();
        var error = await client.ErrorAsync("wire/point", new Dictionary<string, object?> { ["x"] = "one", ["y"] = 2 });
        Assert.Equal("INVALID_ARGUMENT", error["code"]);
        Assert.Equal(400, Convert.ToInt32(error["status"]));
        Assert.Contains("$.x", (string)error["message"]!);
        error = await client.ErrorAsync("echo/typed", new object[] { 1 });
        Assert.Equal("INVALID_ARGUMENT", error["code"]);
        await client.ResultAsync("$ping");
    }

    [Fact]
    public async Task Streams_SendDataThenDone()
    {
        await using var client = await ConnectAsync();
        string key = await client.SendRequestAsync("echo/count", new Dictionary<string, object?> { ["n"] = 3 }, id: 42);
        var messages = await client.ReadUntilTerminalAsync(key);
        Assert.Equal(4, messages.Count);
        for (int i = 0; i < 3; i++) Assert.Equal(i, Convert.ToInt32(AsMap(messages[i]["data"])["i"]));
        Assert.True(messages[3].ContainsKey("data") && messages[3]["data"] is null);
        Assert.Equal(true, messages[3]["done"]);
        Assert.Equal(42, Convert.ToInt32(messages[3]["id"]));
    }

    [Fact]
    public async Task Progress_ComesBeforeTheResult()
    {
        await using var client = await ConnectAsync();
        string key = await client.SendRequestAsync("echo/slow", new Dictionary<string, object?> { ["delayMs"] = 250 });
        var messages = await client.ReadUntilTerminalAsync(key);
        Assert.True(messages.Count >= 2, "expected progress before the result");
        Assert.True(AsMap(messages[0]["progress"]).ContainsKey("elapsedMs"));
        Assert.Equal(250, Convert.ToInt32(AsMap(messages[^1]["result"])["delayMs"]));
    }

    [Theory]
    [InlineData("c1")]
    [InlineData(99)]
    public async Task Cancel_StopsAStreamByItsId(object id)
    {
        await using var client = await ConnectAsync();
        string key = await client.SendRequestAsync("echo/count", new Dictionary<string, object?> { ["n"] = 100000, ["delayMs"] = 20 }, id: id);
        await client.NextAsync(key);
        await client.SendCancelAsync(id);
        // After the cancel nothing terminal comes for that id; the connection goes on. Items already queued may still arrive.
        Assert.Equal("pong", await client.ResultAsync("$ping"));
        var quiet = DateTime.UtcNow + TimeSpan.FromMilliseconds(300);
        int after = 0;
        while (DateTime.UtcNow < quiet)
        {
            try { var m = await client.NextAsync(key, TimeSpan.FromMilliseconds(100)); Assert.False(MsgPackClient.IsTerminal(m)); after++; }
            catch (TimeoutException) { }
        }
        Assert.True(after <= 3, $"{after} items after the cancel");
    }

    [Fact]
    public async Task Notifications_AreNotAnswered()
    {
        await using var client = await ConnectAsync();
        await client.SendNotificationAsync("echo/log", new Dictionary<string, object?> { ["message"] = "from msgpack" });
        await client.SendNotificationAsync("no/such");
        var next = await client.CallAsync("$ping", id: "after");
        Assert.Equal("after", next["id"]);
    }

    [Fact]
    public async Task Errors_CarryCodeStatusMessageRetryableAndDetails()
    {
        await using var client = await ConnectAsync();
        var notFound = await client.CallAsync("no/such", id: 5);
        Assert.Equal(5, Convert.ToInt32(notFound["id"]));
        Assert.Equal("NOT_FOUND", AsMap(notFound["error"])["code"]);

        var failed = await client.ErrorAsync("echo/fail", new Dictionary<string, object?> { ["code"] = "RESOURCE_EXHAUSTED" });
        Assert.Equal("RESOURCE_EXHAUSTED", failed["code"]);
        Assert.Equal(429, Convert.ToInt32(failed["status"]));
        Assert.Equal(true, failed["retryable"]);
        Assert.Equal(1000, Convert.ToInt32(failed["retryAfterMs"]));
        Assert.Equal("RESOURCE_EXHAUSTED", AsMap(failed["details"])["requested"]);

        var detailed = await client.ErrorAsync("wire/detailed");
        Assert.Equal("FAILED_PRECONDITION", detailed["code"]);
        Assert.Equal(1500, Convert.ToInt32(detailed["retryAfterMs"]));
        Assert.Equal("here", AsMap(detailed["details"])["label"]);

        var crash = await client.ErrorAsync("echo/crash");
        Assert.Equal("INTERNAL", crash["code"]);
        Assert.DoesNotContain("sample crash", (string)crash["message"]!);
    }

    [Fact]
    public async Task ServerCall_IsSentAndAnsweredInMessagePack()
    {
        await using var client = await ConnectAsync();
        string key = await client.SendRequestAsync("echo/callback", new Dictionary<string, object?> { ["n"] = 1, ["s"] = "x" });
        var call = await client.NextServerCallAsync();
        Assert.Equal("client/echo", call["path"]);
        Assert.IsNotType<string>(call["id"]);
        Assert.NotNull(call["id"]);
        Assert.Equal(1, Convert.ToInt32(AsMap(call["input"])["n"]));
        await client.SendAsync(new Dictionary<string, object?> { ["id"] = call["id"], ["result"] = new Dictionary<string, object?> { ["echoed"] = call["input"], ["at"] = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc) } });
        var reply = await client.NextAsync(key);
        var result = AsMap(reply["result"]);
        Assert.Equal("x", AsMap(result["echoed"])["s"]);
        // The answer reaches the handler as canonical JSON: a timestamp becomes its ISO 8601 string.
        Assert.Equal("2020-01-01T00:00:00Z", result["at"]);

        key = await client.SendRequestAsync("echo/callback", "again");
        call = await client.NextServerCallAsync();
        await client.SendAsync(new Dictionary<string, object?>
        {
            ["id"] = call["id"],
            ["error"] = new Dictionary<string, object?> { ["code"] = "PERMISSION_DENIED", ["status"] = 403, ["message"] = "no thanks", ["retryable"] = false },
        });
        var error = AsMap((await client.NextAsync(key))["error"]);
        Assert.Equal("PERMISSION_DENIED", error["code"]);
        Assert.Equal("no thanks", error["message"]);
    }

    [Fact]
    public async Task Topics_SubscribeUnsubscribe_AndEventsFromAJsonPublisher()
    {
        await using var mp = await ConnectAsync();
        await using var json = await fixture.Gateway.ConnectAsync();
        var sub = AsMap(await mp.ResultAsync("$subscribe", new Dictionary<string, object?> { ["topic"] = "room:mixed" }));
        Assert.Equal(true, sub["subscribed"]);
        await json.ResultAsync("$subscribe", new { topic = "room:mixed" });

        for (int i = 0; i < 3; i++) await json.ResultAsync("chat/send", new { room = "mixed", text = "t" + i });
        for (int i = 0; i < 3; i++)
        {
            var e = await mp.NextEventAsync();
            Assert.Equal("chat.message", e["event"]);
            Assert.Equal("room:mixed", e["topic"]);
            Assert.Equal("t" + i, AsMap(e["data"])["text"]);
            var je = await json.NextEventAsync();
            Assert.Equal("t" + i, je["data"].Str("text"));
        }

        var unsub = AsMap(await mp.ResultAsync("$unsubscribe", new Dictionary<string, object?> { ["topic"] = "room:mixed" }));
        Assert.Equal(false, unsub["subscribed"]);
        var denied = await mp.ErrorAsync("$subscribe", new Dictionary<string, object?> { ["topic"] = "closed" });
        Assert.Equal("PERMISSION_DENIED", denied["code"]);
    }

    [Fact]
    public async Task DirectEvents_ReachAMessagePackConnection()
    {
        await using var mp = await ConnectAsync();
        await using var json = await fixture.Gateway.ConnectAsync();
        string id = (string)(await mp.ResultAsync("push/whoami"))!;
        var sent = await json.ResultAsync("push/toConnection", new { connectionId = id, @event = "hello", data = new { n = 1, list = new[] { 1, 2 } } });
        Assert.True(sent!.GetValue<bool>());
        var e = await mp.NextEventAsync();
        Assert.Equal("hello", e["event"]);
        Assert.False(e.ContainsKey("topic"));
        Assert.Equal(2, Assert.IsType<object[]>(AsMap(e["data"])["list"]).Length);

        await json.ResultAsync("push/broadcast", new { @event = "all", data = "x" });
        Assert.Equal("all", (await mp.NextEventAsync())["event"]);
    }

    [Fact]
    public async Task TextFrame_OnAMessagePackConnection_ClosesWith1003()
    {
        var metrics = fixture.Gateway.Server.Metrics;
        long before = metrics.ProtocolErrors(1003);
        await using var client = await ConnectAsync();
        await client.SendRawAsync("""{"id":1,"path":"$ping"}"""u8.ToArray(), WebSocketMessageType.Text);
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, await client.WaitEndedAsync());
        Assert.Equal(before + 1, metrics.ProtocolErrors(1003));
    }

    [Fact]
    public async Task NoSubprotocol_StaysJson_AndMessagePackIsOffered()
    {
        // A client that offers both gets the first one it listed that the server serves.
        var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("gateway.v1.msgpack");
        ws.Options.AddSubProtocol("gateway.v1.json");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ws.ConnectAsync(fixture.Gateway.Uri, cts.Token);
        Assert.Contains(ws.SubProtocol, new[] { "gateway.v1.msgpack", "gateway.v1.json" });
        ws.Dispose();
    }
}
