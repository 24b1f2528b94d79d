using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests;

using Map = Dictionary<object, object?>;

/// <summary>
/// EncodedValue (the pass-through value type) over real sockets in both wire formats: read as the bytes the client sent,
/// written back verbatim to the same format, converted only when it crosses to the other one (events, server calls).
/// </summary>
public sealed class EncodedValueTests(EncodedValueTests.Fixture fixture) : IClassFixture<EncodedValueTests.Fixture>
{
    public sealed class Fixture : IAsyncLifetime
    {
        public RpcGateway Gateway { get; private set; } = null!;
        public async Task InitializeAsync() => Gateway = await RpcGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Topics:ClientSubscribe:0"] = "room:*" });
        public async Task DisposeAsync() => await Gateway.DisposeAsync();
    }

    private static Map AsMap(object? value) => Assert.IsType<Map>(value);

    [Fact]
    public async Task EchoOverMessagePack_ReturnsTheValueVerbatim_BinTimestampsAndIntegerKeysIncluded()
    {
        await using var mp = await MsgPackClient.ConnectAsync(fixture.Gateway.Uri);
        var at = new DateTime(2026, 12, 6, 7, 8, 9, DateTimeKind.Utc);
        var input = new Dictionary<object, object?> { ["bin"] = new byte[] { 1, 2, 3 }, ["at"] = at, [7] = "seven", ["list"] = new object?[] { 1, null, "x" } };
        var result = AsMap(await mp.ResultAsync("echo/echo", input));
        // Transcoded through JSON (the JsonElement echo) these were a base64 string, an ISO string and the key "7".
        Assert.Equal(new byte[] { 1, 2, 3 }, Assert.IsType<byte[]>(result["bin"]));
        Assert.Equal(at, Assert.IsType<DateTime>(result["at"]));
        var intKey = Assert.Single(result.Keys, k => k is not string);
        Assert.Equal(7, Convert.ToInt32(intKey));
        Assert.Equal("seven", result[intKey]);
        Assert.Equal("x", Assert.IsType<object?[]>(result["list"])[2]);
        Assert.Null(await mp.ResultAsync("echo/echo"));
        Assert.Equal("plain", await mp.ResultAsync("echo/echo", "plain"));
    }

    [Theory]
    [InlineData("07")]                         // fixint
    [InlineData("d3ffffffffffffff85")]         // int64 -123
    [InlineData("ac313030303030303030303031")] // fixstr "100000000001"
    [InlineData("d903616263")]                 // str8 "abc" (not the shortest form: still echoed as sent)
    public async Task EchoOverMessagePack_ReplyIsTheIdAndTheInputByteForByte(string idHex)
    {
        byte[] id = Convert.FromHexString(idHex);
        byte[] input = MsgPackClient.Encode(new Dictionary<object, object?> { ["bin"] = new byte[] { 9, 8 }, [3] = new object?[] { 1.5, null, "x" } });
        byte[] request = [0x83, 0xa2, (byte)'i', (byte)'d', .. id, 0xa4, .. "path"u8, 0xa9, .. "echo/echo"u8, 0xa5, .. "input"u8, .. input];
        using var ws = new System.Net.WebSockets.ClientWebSocket();
        ws.Options.AddSubProtocol(MsgPackClient.Subprotocol);
        using var timeout = new CancellationTokenSource(MsgPackClient.DefaultTimeout);
        await ws.ConnectAsync(fixture.Gateway.Uri, timeout.Token);
        await ws.SendAsync(request, System.Net.WebSockets.WebSocketMessageType.Binary, endOfMessage: true, timeout.Token);
        var buffer = new byte[4096];
        int length = 0;
        System.Net.WebSockets.ValueWebSocketReceiveResult received;
        do
        {
            received = await ws.ReceiveAsync(buffer.AsMemory(length), timeout.Token);
            length += received.Count;
        } while (!received.EndOfMessage);
        Assert.Equal(System.Net.WebSockets.WebSocketMessageType.Binary, received.MessageType);
        byte[] expected = [0x82, 0xa2, (byte)'i', (byte)'d', .. id, 0xa6, .. "result"u8, .. input];
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(buffer, 0, length));
    }

    [Fact]
    public async Task EchoOverMessagePack_AValueJsonCannotHold_IsInvalidArgument_AsBefore()
    {
        await using var mp = await MsgPackClient.ConnectAsync(fixture.Gateway.Uri);
        // {"id":1,"path":"echo/echo","input":<fixext1 type 5>}
        var message = Convert.FromHexString("83a2696401a470617468a96563686f2f6563686fa5696e707574d40501");
        await mp.SendRawAsync(message);
        var error = AsMap((await mp.NextAsync("1"))["error"]);
        Assert.Equal("INVALID_ARGUMENT", error["code"]);
        Assert.Contains("echo/echo", (string)error["message"]!);
        Assert.Equal("pong", await mp.ResultAsync("$ping"));
    }

    [Fact]
    public async Task Inspect_TheValueRemembersItsFormat_AndReadsAsJsonInBoth()
    {
        await using var json = await fixture.Gateway.ConnectAsync();
        var fromJson = (await json.ResultAsync("encoded/inspect", new { a = 1, s = "é" }))!;
        Assert.Equal("Json", fromJson.Str("format"));
        Assert.Equal("Object", fromJson.Str("kind"));
        Assert.Equal("{\"a\":1,\"s\":\"é\"}", JsonNode.Parse(fromJson.Str("json")!)!.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));

        await using var mp = await MsgPackClient.ConnectAsync(fixture.Gateway.Uri);
        var sent = new Dictionary<string, object?> { ["a"] = 1, ["b"] = new byte[] { 255 } };
        var fromMp = AsMap(await mp.ResultAsync("encoded/inspect", sent));
        Assert.Equal("MessagePack", fromMp["format"]);
        Assert.Equal("Object", fromMp["kind"]);
        Assert.Equal("{\"a\":1,\"b\":\"/w==\"}", fromMp["json"]);
        // The client's own bytes, not a re-encoding.
        Assert.Equal(MsgPackClient.Encode(sent).Length, Convert.ToInt32(fromMp["length"]));
        Assert.Equal(false, fromMp["isNull"]);
    }

    [Fact]
    public async Task Typed_ReadsTheValueAsATypeFromEitherFormat()
    {
        await using var json = await fixture.Gateway.ConnectAsync();
        Assert.Equal(3, (await json.ResultAsync("encoded/typed", new { x = 3 }))!["x"]!.GetValue<int>());
        await using var mp = await MsgPackClient.ConnectAsync(fixture.Gateway.Uri);
        Assert.Equal(4, Convert.ToInt32(AsMap(await mp.ResultAsync("encoded/typed", new Dictionary<string, object?> { ["y"] = 4 }))["y"]));
    }

    [Fact]
    public async Task AValueMadeOnTheServerAsJson_ReachesAMessagePackClientAsAMap()
    {
        await using var mp = await MsgPackClient.ConnectAsync(fixture.Gateway.Uri);
        var made = AsMap(await mp.ResultAsync("encoded/made"));
        Assert.Equal("made", made["text"]);
        Assert.Equal(2, Assert.IsType<object?[]>(made["list"]).Length);
        await using var json = await fixture.Gateway.ConnectAsync();
        Assert.Equal("made", (await json.ResultAsync("encoded/made")).Str("text"));
    }

    [Fact]
    public async Task StreamItems_AreVerbatimInTheirFormat()
    {
        await using var mp = await MsgPackClient.ConnectAsync(fixture.Gateway.Uri);
        string key = await mp.SendRequestAsync("encoded/stream", new Dictionary<string, object?> { ["b"] = new byte[] { 9 } });
        var messages = await mp.ReadUntilTerminalAsync(key);
        var items = messages.Where(m => m.ContainsKey("data") && !m.ContainsKey("done")).ToList();
        Assert.Equal(3, items.Count);
        Assert.All(items, m => Assert.Equal(new byte[] { 9 }, AsMap(m["data"])["b"]));

        await using var json = await fixture.Gateway.ConnectAsync();
        string jkey = await json.SendRequestAsync("encoded/stream", new { n = 5 });
        var jitems = (await json.ReadUntilTerminalAsync(jkey)).Where(m => m["done"] is null && m.ContainsKey("data")).ToList();
        Assert.Equal(3, jitems.Count);
        Assert.All(jitems, m => Assert.Equal(5, m["data"].Long("n")));
    }

    [Fact]
    public async Task PublishedFromMessagePack_ReachesJsonAndMessagePackSubscribers()
    {
        await using var mp = await MsgPackClient.ConnectAsync(fixture.Gateway.Uri);
        await using var json = await fixture.Gateway.ConnectAsync();
        await mp.ResultAsync("$subscribe", new Dictionary<string, object?> { ["topic"] = "room:enc-mp" });
        await json.ResultAsync("$subscribe", new { topic = "room:enc-mp" });

        var data = new Dictionary<string, object?> { ["text"] = "hi", ["bin"] = new byte[] { 1, 2 }, ["n"] = -3 };
        Assert.Equal("MessagePack", await mp.ResultAsync("encoded/publish", new Dictionary<string, object?> { ["topic"] = "room:enc-mp", ["data"] = data }));

        var je = await json.NextEventAsync();
        Assert.Equal("encoded.event", je.Str("event"));
        Assert.Equal("hi", je["data"].Str("text"));
        Assert.Equal(Convert.ToBase64String(new byte[] { 1, 2 }), je["data"].Str("bin"));
        Assert.Equal(-3, je["data"].Long("n"));
        var me = AsMap((await mp.NextEventAsync())["data"]);
        Assert.Equal("hi", me["text"]);
        Assert.Equal(-3, Convert.ToInt32(me["n"]));
    }

    [Fact]
    public async Task PublishedFromJson_ReachesMessagePackAndJsonSubscribers()
    {
        await using var mp = await MsgPackClient.ConnectAsync(fixture.Gateway.Uri);
        await using var json = await fixture.Gateway.ConnectAsync();
        await mp.ResultAsync("$subscribe", new Dictionary<string, object?> { ["topic"] = "room:enc-json" });
        await json.ResultAsync("$subscribe", new { topic = "room:enc-json" });

        var published = await json.ResultAsync("encoded/publish", new { topic = "room:enc-json", data = new { text = "yo", list = new object?[] { 1.5, null, true } } });
        Assert.Equal("Json", published!.GetValue<string>());

        var me = AsMap((await mp.NextEventAsync())["data"]);
        Assert.Equal("yo", me["text"]);
        var list = Assert.IsType<object?[]>(me["list"]);
        Assert.Equal(1.5, Convert.ToDouble(list[0]));
        Assert.Null(list[1]);
        Assert.Equal(true, list[2]);
        Assert.Equal("yo", (await json.NextEventAsync())["data"].Str("text"));
    }

    [Fact]
    public async Task ServerCall_InputAndAnswerAsEncodedValues_InBothFormats()
    {
        await using var mp = await MsgPackClient.ConnectAsync(fixture.Gateway.Uri);
        string key = await mp.SendRequestAsync("encoded/call", new Dictionary<string, object?> { ["q"] = "ask" });
        var call = await mp.NextServerCallAsync();
        Assert.Equal("ask", AsMap(call["input"])["q"]);
        await mp.SendAsync(new Dictionary<string, object?> { ["id"] = call["id"], ["result"] = new Dictionary<string, object?> { ["a"] = 42 } });
        Assert.Equal(42, Convert.ToInt32(AsMap((await mp.NextAsync(key))["result"])["a"]));

        await using var json = await fixture.Gateway.ConnectAsync();
        string jkey = await json.SendRequestAsync("encoded/call", new { q = "ask" });
        var jcall = await json.NextServerCallAsync();
        Assert.Equal("ask", jcall["input"].Str("q"));
        await json.AnswerAsync(jcall["id"], new JsonObject { ["a"] = 43 });
        Assert.Equal(43, (await json.NextAsync(jkey))["result"].Long("a"));
    }
}
