using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests;

/// <summary>Every error path: unknown procedure, bad input, handler errors, crashes, malformed envelopes, binary frames.</summary>
public sealed class ErrorTests(StandardGatewayFixture fixture) : IClassFixture<StandardGatewayFixture>
{
    private RpcGateway Gateway => fixture.Gateway;

    [Theory]
    [InlineData("nope/nothing")]
    [InlineData("echo/nope")]
    [InlineData("$nope")]
    public async Task UnknownProcedure_IsNotFound(string path)
    {
        await using var client = await Gateway.ConnectAsync();
        var reply = await client.CallAsync(path, new { a = 1 });
        var error = reply.AssertError("NOT_FOUND", 404);
        Assert.False(error.Bool("retryable"));
        Assert.Contains(path, error.Str("message"));
        await client.PingAsync();
    }

    [Fact]
    public async Task Subscribe_ToATopicNoPatternOpens_IsPermissionDenied()
    {
        // The standard test gateway sets no Gateway:Topics:ClientSubscribe: no topic is open to clients.
        await using var client = await Gateway.ConnectAsync();
        var reply = await client.CallAsync("$subscribe", new { topic = "room:1" });
        reply.AssertError("PERMISSION_DENIED", 403);
    }

    [Fact]
    public async Task BadInputType_IsInvalidArgumentNamingTheMember()
    {
        await using var client = await Gateway.ConnectAsync();
        var reply = await client.CallAsync("echo/typed", new { text = "t", number = "x" });
        var error = reply.AssertError("INVALID_ARGUMENT", 400);
        Assert.False(error.Bool("retryable"));
        // In the client's terms: the member and the JSON it must be, never a .NET type name (System.Nullable`1[System.Int64]).
        Assert.Equal("invalid input for 'echo/typed': $.number must be an integer or null", error.Str("message"));
        await client.PingAsync();
    }

    [Theory]
    [InlineData("5")]
    [InlineData("\"text\"")]
    [InlineData("[1,2]")]
    public async Task InputOfTheWrongJsonKind_IsInvalidArgument(string input)
    {
        await using var client = await Gateway.ConnectAsync();
        await client.SendTextAsync($$"""{"id":1,"path":"echo/typed","input":{{input}}}""");
        var reply = await client.NextAsync("1");
        var error = reply.AssertError("INVALID_ARGUMENT", 400);
        Assert.Equal("invalid input for 'echo/typed': expects an object", error.Str("message"));
        await client.PingAsync();
    }

    [Theory]
    [InlineData("""{"id":1,"path":"echo/typed"}""", "input is required: 'echo/typed' expects an object")]
    [InlineData("""{"id":1,"path":"echo/typed","input":null}""", "input is required: 'echo/typed' expects an object")]
    [InlineData("""{"id":1,"path":"test/int"}""", "input is required: 'test/int' expects an integer")]
    [InlineData("""{"id":1,"path":"test/record","input":null}""", "input is required: 'test/record' expects an object")]
    public async Task MissingRequiredInput_IsInvalidArgument(string message, string expected)
    {
        await using var client = await Gateway.ConnectAsync();
        await client.SendTextAsync(message);
        var reply = await client.NextAsync("1");
        var error = reply.AssertError("INVALID_ARGUMENT", 400);
        Assert.Equal(expected, error.Str("message"));
        await client.PingAsync();
    }

    public static TheoryData<string, int, bool> Codes => new()
    {
        { "INVALID_ARGUMENT", 400, false },
        { "UNAUTHENTICATED", 401, false },
        { "PERMISSION_DENIED", 403, false },
        { "NOT_FOUND", 404, false },
        { "ALREADY_EXISTS", 409, false },
        { "ABORTED", 409, true },
        { "FAILED_PRECONDITION", 412, false },
        { "RESOURCE_EXHAUSTED", 429, true },
        { "CANCELLED", 499, false },
        { "INTERNAL", 500, false },
        { "UNIMPLEMENTED", 501, false },
        { "UNAVAILABLE", 503, true },
        { "DEADLINE_EXCEEDED", 504, true },
    };

    [Theory]
    [MemberData(nameof(Codes))]
    public async Task HandlerError_CarriesItsCodeStatusAndRetryability(string code, int status, bool retryable)
    {
        await using var client = await Gateway.ConnectAsync();
        var reply = await client.CallAsync("echo/fail", new { code, message = "asked to fail with " + code });
        var error = reply.AssertError(code, status);
        Assert.Equal(retryable, error.Bool("retryable"));
        Assert.Equal("asked to fail with " + code, error.Str("message"));
        Assert.Equal(code, error["details"].Str("requested"));
        if (code == "RESOURCE_EXHAUSTED") Assert.Equal(1000, error.Long("retryAfterMs"));
        else Assert.False(error.ContainsKey("retryAfterMs"), error.ToJsonString());
        Assert.Single(client.ReceivedFor(RpcClient.Key(reply["id"])));
    }

    [Fact]
    public async Task HandlerError_WithoutMessage_HasADefaultOne()
    {
        await using var client = await Gateway.ConnectAsync();
        var reply = await client.CallAsync("echo/fail", new { code = "not_found" });
        var error = reply.AssertError("NOT_FOUND", 404);
        Assert.Contains("NOT_FOUND", error.Str("message"));
    }

    [Fact]
    public async Task Crash_IsInternalWithAGenericMessageAndNoInternals()
    {
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("echo/crash");
        var messages = await client.ReadUntilTerminalAsync(key);
        var reply = Assert.Single(messages);
        var error = reply.AssertError("INTERNAL", 500);
        Assert.Equal("internal error", error.Str("message"));
        Assert.False(error.Bool("retryable"));
        Assert.False(error.ContainsKey("details"), error.ToJsonString());

        string raw = reply.ToJsonString();
        Assert.DoesNotContain("sample crash", raw);
        Assert.DoesNotContain("must never reach", raw);
        Assert.DoesNotContain("InvalidOperationException", raw);
        Assert.DoesNotContain("Exception", raw);
        Assert.DoesNotContain(" at ", raw);
        Assert.DoesNotContain("EchoService", raw);
        Assert.DoesNotContain(".cs", raw);
        await client.PingAsync();
    }

    /// <summary>(message, the id its error must carry as JSON text, "null" when none could be read).</summary>
    public static TheoryData<string, string> Malformed => new()
    {
        { """{"id":7,"path":5}""", "7" },
        { """{"path":5,"id":7}""", "7" },
        { """{"id":"m1","path":""}""", "\"m1\"" },
        { """{"id":"m2","path":"$ping",""", "\"m2\"" },
        { """{"id":11,"path":"$ping"} trailing""", "11" },
        { """{"id":12,"path":"$ping","cancel":"yes"}""", "12" },
        { """{"id":13}""", "13" },
        { """{"id":14,"input":{}}""", "14" },
        { "not json at all", "null" },
        { "{", "null" },
        { "", "null" },
        { "[1,2,3]", "null" },
        { """[{"id":1,"path":"$ping"}]""", "null" },
        { "\"just a string\"", "null" },
        { "42", "null" },
        { "null", "null" },
        { "{}", "null" },
        { """{"input":{"text":"no path, no id"}}""", "null" },
        { """{"id":true,"path":"$ping"}""", "null" },
        { """{"id":1.5,"path":"$ping"}""", "null" },
        { """{"id":{"a":1},"path":"$ping"}""", "null" },
        { """{"id":null,"path":"$ping"}""", "null" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task MalformedEnvelope_IsInvalidArgumentWithItsIdAndTheConnectionStaysOpen(string message, string expectedId)
    {
        await using var client = await Gateway.ConnectAsync();
        await client.SendTextAsync(message);
        var reply = await client.NextAnyAsync();
        reply.AssertError("INVALID_ARGUMENT", 400);
        Assert.True(reply.ContainsKey("id"), "an error reply always has an id member (null when unknown): " + reply.ToJsonString());
        Assert.Equal(expectedId, RpcClient.Key(reply["id"]));
        await client.PingAsync();
        Assert.Equal(WebSocketState.Open, client.Socket.State);
    }

    [Fact]
    public async Task UnknownMembers_AreIgnored()
    {
        await using var client = await Gateway.ConnectAsync();
        await client.SendTextAsync("""{"id":"u1","path":"echo/typed","input":{"text":"a","extra":[1,{"b":2}]},"meta":{"trace":"x"},"v":2}""");
        var reply = await client.NextAsync("\"u1\"");
        Assert.Equal("a", reply["result"].Str("text"));
    }

    [Fact]
    public async Task BinaryFrame_OnAJsonConnection_ClosesWith1003()
    {
        // Binary frames are MessagePack's (gateway.v1.msgpack): on a JSON connection nothing in them can be read.
        long before = Gateway.Server.Metrics.ProtocolErrors(1003);
        await using var client = await Gateway.ConnectAsync();
        await client.SendAsync("""{"id":1,"path":"$ping"}"""u8.ToArray(), WebSocketMessageType.Binary);
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, await client.WaitEndedAsync());
        Assert.Equal("gateway.v1.json messages are text frames", client.Socket.CloseStatusDescription);
        Assert.Equal(before + 1, Gateway.Server.Metrics.ProtocolErrors(1003));
        Assert.Empty(client.Received);
    }

    [Fact]
    public async Task ResultOrErrorFromTheClient_ForNoServerCall_IsIgnored()
    {
        await using var client = await Gateway.ConnectAsync();
        await client.SendTextAsync("""{"id":"s1","result":{"x":1}}""");
        await client.SendTextAsync("""{"id":"s2","error":{"code":"NOT_FOUND","status":404,"message":"m","retryable":false}}""");
        string ping = await client.SendRequestAsync("$ping");
        var next = await client.NextAnyAsync();
        Assert.Equal(ping, RpcClient.Key(next["id"]));
    }

    [Fact]
    public async Task IdOf128Characters_IsAccepted()
    {
        await using var client = await Gateway.ConnectAsync();
        string id = new('a', 128);
        var reply = await client.CallAsync("$ping", id: id);
        Assert.Equal("pong", reply.Str("result"));
        Assert.Equal(id, reply.Str("id"));
    }

    [Theory]
    [InlineData(129)]
    [InlineData(130)]
    public async Task IdOverTheStatedLimitOf128Characters_IsRejected(int length)
    {
        // Regression test for a bug the suite found (fixed in the server).
        await using var client = await Gateway.ConnectAsync();
        string id = new('b', length);
        await client.SendTextAsync($$"""{"id":"{{id}}","path":"$ping"}""");
        var reply = await client.NextAnyAsync();
        var error = reply.AssertError("INVALID_ARGUMENT", 400);
        Assert.Contains("too long", error.Str("message"));
    }

    // The limit counts characters of the id the client meant, however it was written: a "\u00e9" escape is one
    // character (6 bytes), "é" raw is one (2 bytes), an escaped surrogate pair is two (12 bytes).
    [Theory]
    [InlineData("\\u00e9", 25, "\u00e9")]
    [InlineData("\\u00e9", 128, "\u00e9")]
    [InlineData("\u00e9", 128, "\u00e9")]
    [InlineData("\\ud83d\\ude00", 64, "\ud83d\ude00")]
    [InlineData("\\n", 128, "\n")]
    public async Task EscapedOrMultiByteIdWithinTheLimit_IsAccepted(string written, int times, string meant)
    {
        await using var client = await Gateway.ConnectAsync();
        string raw = string.Concat(Enumerable.Repeat(written, times));
        await client.SendTextAsync($$"""{"id":"{{raw}}","path":"$ping"}""");
        var reply = await client.NextAnyAsync();
        Assert.Equal("pong", reply.Str("result"));
        Assert.Equal(string.Concat(Enumerable.Repeat(meant, times)), reply.Str("id"));
    }

    [Theory]
    [InlineData("\\u00e9", 129)]
    [InlineData("\u00e9", 129)]
    [InlineData("\\ud83d\\ude00", 65)]
    [InlineData("\\u00e9", 1000)]
    public async Task EscapedOrMultiByteIdOverTheLimit_IsRejected(string written, int times)
    {
        await using var client = await Gateway.ConnectAsync();
        string raw = string.Concat(Enumerable.Repeat(written, times));
        await client.SendTextAsync($$"""{"id":"{{raw}}","path":"$ping"}""");
        var reply = await client.NextAnyAsync();
        var error = reply.AssertError("INVALID_ARGUMENT", 400);
        Assert.Equal("id is too long (at most 128 characters)", error.Str("message"));
        await client.PingAsync();
    }

    [Fact]
    public async Task IdOf200Characters_IsRejected()
    {
        await using var client = await Gateway.ConnectAsync();
        string id = new('c', 200);
        await client.SendTextAsync($$"""{"id":"{{id}}","path":"$ping"}""");
        var reply = await client.NextAnyAsync();
        var error = reply.AssertError("INVALID_ARGUMENT", 400);
        Assert.Contains("too long", error.Str("message"));
        await client.PingAsync();
    }
}
