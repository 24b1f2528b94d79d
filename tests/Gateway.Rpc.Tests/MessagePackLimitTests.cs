using System.Net.WebSockets;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests;

using Map = Dictionary<object, object?>;

/// <summary>
/// Malformed MessagePack and the limits on it: INVALID_ARGUMENT (counted toward Gateway:Limits:MaxBadMessages like
/// malformed JSON), Gateway:Json:MaxDepth for the whole message, headers that claim more than the message holds, ids.
/// </summary>
public sealed class MessagePackLimitTests : IAsyncLifetime
{
    private RpcGateway _gateway = null!;

    public async Task InitializeAsync() => _gateway = await RpcGateway.StartAsync(new Dictionary<string, string?>
    {
        ["Gateway:Limits:MaxBadMessages"] = "3",
        ["Gateway:Json:MaxDepth"] = "8",
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private Task<MsgPackClient> ConnectAsync() => MsgPackClient.ConnectAsync(_gateway.Uri);

    private static async Task<Map> InvalidAsync(MsgPackClient client, byte[] message, string expected, string idKey = "nil")
    {
        await client.SendRawAsync(message);
        var reply = await client.NextAsync(idKey);
        var error = Assert.IsType<Map>(reply["error"]);
        Assert.Equal("INVALID_ARGUMENT", error["code"]);
        Assert.Equal(400, Convert.ToInt32(error["status"]));
        Assert.Contains(expected, (string)error["message"]!);
        return reply;
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { "c1", "malformed MessagePack" },                    // the one code MessagePack never uses
        { "83a26964", "malformed MessagePack" },              // a map of 3 that ends inside its first key's value
        { "93010203", "must be a MessagePack map" },          // an array
        { "a3616263", "must be a MessagePack map" },          // a string
        { "dfffffffff", "malformed MessagePack" },            // map32 claiming 2^32-1 entries in a 5-byte message
        { "81a470617468ddffffffff", "malformed MessagePack" }, // path: array32 claiming 2^32-1 items
        { "8101a3616263", "keys must be strings" },           // an integer key
        { "82a26964cb3ff8000000000000a470617468a52470696e67", "id must be a string or an integer" }, // id 1.5
        { "81a4706174680c", "path must be a string" },
        { "80", "needs a path" },
        { "81a470617468a2c328", "not valid UTF-8" },          // path bytes that are not UTF-8
        { "81a470617468a52470696e67c0", "unexpected data after" }, // a second value after the map
        // str32 lengths of 2^31 and more (the library reads them as negative): no exception escapes, the answer is precise.
        { "81a470617468dbffffffff", "malformed MessagePack" },   // path
        { "81a26964db80000000", "malformed MessagePack" },       // id
        { "81dbffffffff", "malformed MessagePack" },             // a key
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task MalformedMessagePack_IsInvalidArgument_AndTheConnectionGoesOn(string hex, string expected)
    {
        await using var client = await ConnectAsync();
        var reply = await InvalidAsync(client, Convert.FromHexString(hex), expected);
        Assert.True(reply.ContainsKey("id") && reply["id"] is null);
        Assert.Equal("pong", await client.ResultAsync("$ping"));
    }

    [Fact]
    public async Task BadMessagesInARow_CloseWith1008_LikeJson()
    {
        await using var client = await ConnectAsync();
        await InvalidAsync(client, [0xc1], "malformed");
        await InvalidAsync(client, [0x93, 1, 2, 3], "map");
        await client.ResultAsync("$ping"); // a good message resets the count
        for (int i = 0; i < 3; i++) await client.SendRawAsync(new byte[] { 0xc1 });
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.WaitEndedAsync());
    }

    private static object Nest(int levels)
    {
        object value = 1;
        for (int i = 0; i < levels; i++) value = new object[] { value };
        return value;
    }

    [Fact]
    public async Task Nesting_IsBoundedByJsonMaxDepth_ForTheWholeMessage()
    {
        await using var client = await ConnectAsync();
        // Envelope = level 1, so input may hold 7 levels of arrays.
        var ok = await client.CallAsync("echo/echo", Nest(7));
        Assert.True(ok.ContainsKey("result"), MsgPackClient.Describe(ok));
        var deep = MsgPackClient.Encode(new Dictionary<string, object?> { ["id"] = 1, ["path"] = "echo/echo", ["input"] = Nest(8) });
        await InvalidAsync(client, deep, "deeper than 8", idKey: "1");
        // Far deeper than any stack should take: refused by counting, not by recursion.
        var hostile = new byte[200_000];
        hostile.AsSpan().Fill(0x91);
        hostile[^1] = 0x01;
        var message = Convert.FromHexString("82a2696401a5696e707574").Concat(hostile).ToArray();
        await InvalidAsync(client, message, "deeper than 8", idKey: "1");
        Assert.Equal("pong", await client.ResultAsync("$ping"));
    }

    [Fact]
    public async Task Ids_AreLimitedLikeJson()
    {
        await using var client = await ConnectAsync();
        var ok = await client.CallAsync("$ping", id: new string('é', 128));
        Assert.Equal("pong", ok["result"]);
        await InvalidAsync(client, MsgPackClient.Encode(new Dictionary<string, object?> { ["id"] = new string('a', 129), ["path"] = "$ping" }), "id is too long");
        await InvalidAsync(client, MsgPackClient.Encode(new Dictionary<string, object?> { ["id"] = ulong.MaxValue, ["path"] = "$ping" }), "id must be a string or an integer");
        var min = await client.CallAsync("$ping", id: long.MinValue);
        Assert.Equal(long.MinValue, Convert.ToInt64(min["id"]));
    }

    [Fact]
    public async Task MalformedInput_InAValidEnvelope_IsAnsweredWithItsId()
    {
        await using var client = await ConnectAsync();
        // {"id":"b","path":"wire/types","input":{"data": ext type 5}}: an extension the mapping does not know.
        var message = Convert.FromHexString("83a26964a162a470617468aa776972652f7479706573a5696e70757481a464617461d40501");
        await client.SendRawAsync(message);
        var reply = await client.NextAsync("\"b\"");
        Assert.Equal("INVALID_ARGUMENT", Assert.IsType<Map>(reply["error"])["code"]);
        // A value that does not fit is the input's fault, not a bad envelope: it does not count toward the limit.
        for (int i = 0; i < 4; i++) await client.ErrorAsync("wire/point", new Dictionary<string, object?> { ["x"] = "no" });
        Assert.Equal("pong", await client.ResultAsync("$ping"));
    }
}
