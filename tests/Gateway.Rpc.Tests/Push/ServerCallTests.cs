using Gateway.Tests.Shared;
using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests.Push;

/// <summary>
/// Calls from the server that a client answers (IConnections.CallAsync through push/call, push/callInt and the
/// sample's echo/callback): <c>{"id":n,"path":…,"input":…}</c> to the client, its <c>result</c> or <c>error</c> back to
/// the original caller; timeouts, cancels, closes, limits, late and stray answers.
/// </summary>
public sealed class ServerCallTests(PushGatewayFixture fixture) : IClassFixture<PushGatewayFixture>
{
    private RpcGateway Gateway => fixture.Gateway;

    /// <summary>The next call from the server, checked: an integer id, the path, and the input (null: no input member).</summary>
    private static async Task<JsonObject> ExpectCallAsync(RpcClient client, string path = "client/echo", JsonNode? input = null, bool hasInput = true)
    {
        var call = await client.NextServerCallAsync();
        Assert.True(call["id"] is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Number, $"a server call has an integer id: {call.ToJsonString()}");
        Assert.Equal(path, call.Str("path"));
        if (hasInput) Assert.True(JsonNode.DeepEquals(input, call["input"]), $"expected input {input?.ToJsonString()}, got {call.ToJsonString()}");
        else Assert.False(call.ContainsKey("input"), call.ToJsonString());
        return call;
    }

    [Theory]
    [InlineData("""{"echo":{"hello":"world"},"n":1}""")]
    [InlineData("[1,2,3]")]
    [InlineData("\"text\"")]
    [InlineData("42")]
    [InlineData("true")]
    [InlineData("null")]
    public async Task TheClientsResult_IsTheResultOfTheOriginalCall(string resultJson)
    {
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("push/call", new { input = new { hello = "world" } });
        var call = await ExpectCallAsync(client, input: JsonNode.Parse("""{"hello":"world"}"""));
        await client.AnswerAsync(call["id"], JsonNode.Parse(resultJson));

        var reply = await client.NextAsync(key);
        Assert.True(reply.ContainsKey("result"), reply.ToJsonString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(resultJson), reply["result"]), reply.ToJsonString());
        await client.AssertNothingPushedAsync();
    }

    [Fact]
    public async Task ACallWithoutInput_HasNoInputMember_AndAnotherConnectionCanBeCalled()
    {
        await using var caller = await Gateway.ConnectAsync();
        await using var callee = await Gateway.ConnectAsync();
        string key = await caller.SendRequestAsync("push/call", new { connectionId = await callee.IdAsync(), path = "client/other" });
        var call = await ExpectCallAsync(callee, "client/other", hasInput: false);
        await callee.AnswerAsync(call["id"], "from the callee");
        Assert.Equal("from the callee", (await caller.NextAsync(key)).Str("result"));
        await caller.AssertNothingPushedAsync("the caller is not the one called");
    }

    [Fact]
    public async Task ConcurrentCalls_HaveDistinctIds_AndEachAnswerGoesToItsOwnCaller()
    {
        await using var callee = await Gateway.ConnectAsync();
        await using var caller = await Gateway.ConnectAsync();
        string calleeId = await callee.IdAsync();
        var keys = new List<string>();
        for (int i = 0; i < 5; i++) keys.Add(await caller.SendRequestAsync("push/call", new { connectionId = calleeId, input = i }));
        var calls = new List<JsonObject>();
        for (int i = 0; i < 5; i++) calls.Add(await callee.NextServerCallAsync());
        Assert.Equal(5, calls.Select(c => c["id"]!.GetValue<long>()).Distinct().Count());
        // Answer in reverse order, each with ten times its input.
        foreach (var c in Enumerable.Reverse(calls)) await callee.AnswerAsync(c["id"], c["input"]!.GetValue<int>() * 10);
        for (int i = 0; i < 5; i++) Assert.Equal(i * 10, (await caller.NextAsync(keys[i])).Long("result"));
    }

    public static TheoryData<string, int, string, bool, string?, long?> ClientErrors => new()
    {
        { "NOT_FOUND", 404, "no such thing on the client", false, """{"why":"test","n":[1,2]}""", null },
        { "FAILED_PRECONDITION", 412, "retry me anyway", true, null, null },           // retryable against the code's default
        { "UNAVAILABLE", 503, "do not retry me", false, """{"nested":{"deep":true}}""", null }, // not retryable against the default
        { "RESOURCE_EXHAUSTED", 429, "slow down", true, null, 1500 },
        { "PERMISSION_DENIED", 403, "the user said no", false, "\"a string detail\"", null },
    };

    [Theory]
    [MemberData(nameof(ClientErrors))]
    public async Task TheClientsError_IsTheErrorOfTheOriginalCall(string code, int status, string message, bool retryable, string? details, long? retryAfterMs)
    {
        await using var caller = await Gateway.ConnectAsync();
        await using var callee = await Gateway.ConnectAsync();
        string key = await caller.SendRequestAsync("push/call", new { connectionId = await callee.IdAsync() });
        var call = await callee.NextServerCallAsync();
        await callee.AnswerErrorAsync(call["id"], PushKit.ErrorObject(code, status, message, retryable, details is null ? null : JsonNode.Parse(details), retryAfterMs));

        var error = (await caller.NextAsync(key)).AssertError(code, status);
        Assert.Equal(message, error.Str("message"));
        Assert.Equal(retryable, error.Bool("retryable"));
        if (details is null) Assert.False(error.ContainsKey("details"), error.ToJsonString());
        else Assert.True(JsonNode.DeepEquals(JsonNode.Parse(details), error["details"]), error.ToJsonString());
        Assert.Equal(retryAfterMs, error.Long("retryAfterMs"));
        await callee.AssertNothingPushedAsync();
    }

    [Fact]
    public async Task AClientErrorWithAnUnknownCode_IsInternal()
    {
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("push/call", new { });
        var call = await client.NextServerCallAsync();
        await client.AnswerErrorAsync(call["id"], new JsonObject { ["code"] = "NOT_A_CODE", ["status"] = 599, ["message"] = "odd", ["retryable"] = false });
        (await client.NextAsync(key)).AssertError("INTERNAL", 500);
        await client.PingAsync();
    }

    [Fact]
    public async Task NoAnswerInTime_IsDeadlineExceeded_TheClientGetsACancel_AndALateAnswerIsIgnored()
    {
        long timedOutBefore = Gateway.Metrics().ServerCallsTimedOut;
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("push/call", new { timeoutMs = 300, input = "slow" });
        var call = await ExpectCallAsync(client, input: "slow");
        string callKey = RpcClient.Key(call["id"]);

        var error = (await client.NextAsync(key)).AssertError("DEADLINE_EXCEEDED", 504);
        Assert.True(error.Bool("retryable"));
        var cancel = await client.NextAsync(callKey);
        Assert.True(JsonNode.DeepEquals(new JsonObject { ["id"] = call["id"]!.DeepClone(), ["cancel"] = true }, cancel), cancel.ToJsonString());
        Assert.True(Gateway.Metrics().ServerCallsTimedOut > timedOutBefore);

        // The late answer: nothing waits for it, nothing comes back, the connection is fine.
        await client.AnswerAsync(call["id"], "too late");
        await client.AnswerErrorAsync(call["id"], PushKit.ErrorObject("NOT_FOUND", 404, "too late too", false));
        await client.AssertNothingPushedAsync("a late answer is ignored");
        PushKit.AssertCallThenOneCancel(client, callKey);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, client.Socket.State);

        // And the next call works, with a new id.
        string next = await client.SendRequestAsync("push/call", new { input = "again" });
        var second = await ExpectCallAsync(client, input: "again");
        Assert.NotEqual(call["id"]!.GetValue<long>(), second["id"]!.GetValue<long>());
        await client.AnswerAsync(second["id"], "in time");
        Assert.Equal("in time", (await client.NextAsync(next)).Str("result"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TheCalledConnectionClosingMidCall_IsUnavailableToTheCaller(bool abort)
    {
        await using var caller = await Gateway.ConnectAsync();
        var callee = await Gateway.ConnectAsync();
        string key = await caller.SendRequestAsync("push/call", new { connectionId = await callee.IdAsync(), timeoutMs = 30_000 });
        await callee.NextServerCallAsync();

        if (abort) callee.Abort();
        await callee.DisposeAsync();

        var error = (await caller.NextAsync(key)).AssertError("UNAVAILABLE", 503);
        Assert.True(error.Bool("retryable"));
        await caller.AssertNothingPushedAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TheCallerCancellingItsRequest_SendsTheCalledClientACancel(bool callItself)
    {
        await using var caller = await Gateway.ConnectAsync();
        await using var other = await Gateway.ConnectAsync();
        var callee = callItself ? caller : other;
        string key = await caller.SendRequestAsync("push/call", new { connectionId = await callee.IdAsync(), timeoutMs = 30_000 });
        var call = await callee.NextServerCallAsync();
        string callKey = RpcClient.Key(call["id"]);

        await caller.SendCancelAsync(key);

        var cancel = await callee.NextAsync(callKey);
        Assert.Equal(true, cancel.Bool("cancel"));
        // Nothing is sent for a cancelled request; a late answer to the cancelled call is ignored.
        await callee.AnswerAsync(call["id"], "late");
        await caller.AssertNothingPushedAsync();
        await callee.AssertNothingPushedAsync();
        Assert.Empty(caller.ReceivedFor(key));
        PushKit.AssertCallThenOneCancel(callee, callKey);
    }

    [Fact]
    public async Task TheCallerDisconnecting_SendsTheCalledClientACancel()
    {
        var caller = await Gateway.ConnectAsync();
        await using var callee = await Gateway.ConnectAsync();
        await caller.SendRequestAsync("push/call", new { connectionId = await callee.IdAsync(), timeoutMs = 30_000 });
        var call = await callee.NextServerCallAsync();
        await caller.DisposeAsync();
        Assert.Equal(true, (await callee.NextAsync(RpcClient.Key(call["id"]))).Bool("cancel"));
        await callee.AnswerAsync(call["id"], "nobody waits");
        await callee.AssertNothingPushedAsync();
    }

    [Fact]
    public async Task MaxServerCallsPerConnection_IsResourceExhausted_ForThatConnectionOnly()
    {
        await using var gateway = await PushKit.StartAsync(new Dictionary<string, string?> { ["Gateway:Limits:MaxServerCallsPerConnection"] = "2" });
        await using var caller = await gateway.ConnectAsync();
        await using var busy = await gateway.ConnectAsync();
        await using var free = await gateway.ConnectAsync();
        string busyId = await busy.IdAsync();
        string k1 = await caller.SendRequestAsync("push/call", new { connectionId = busyId, input = 1, timeoutMs = 30_000 });
        string k2 = await caller.SendRequestAsync("push/call", new { connectionId = busyId, input = 2, timeoutMs = 30_000 });
        var c1 = await busy.NextServerCallAsync();
        var c2 = await busy.NextServerCallAsync();

        var error = (await caller.CallAsync("push/call", new { connectionId = busyId, input = 3 })).AssertError("RESOURCE_EXHAUSTED", 429);
        Assert.Contains("MaxServerCallsPerConnection", error.Str("message"));
        await busy.AssertNothingPushedAsync("the refused call was never sent");

        // Another connection is not limited by it.
        string kf = await caller.SendRequestAsync("push/call", new { connectionId = await free.IdAsync(), input = "f" });
        var cf = await free.NextServerCallAsync();
        await free.AnswerAsync(cf["id"], "free");
        Assert.Equal("free", (await caller.NextAsync(kf)).Str("result"));

        // One answered: room for one more.
        await busy.AnswerAsync(c1["id"], "one");
        Assert.Equal("one", (await caller.NextAsync(k1)).Str("result"));
        string k3 = await caller.SendRequestAsync("push/call", new { connectionId = busyId, input = 3 });
        var c3 = await busy.NextServerCallAsync();
        Assert.Equal(3, c3["input"]!.GetValue<int>());
        await busy.AnswerAsync(c2["id"], "two");
        await busy.AnswerAsync(c3["id"], "three");
        Assert.Equal("two", (await caller.NextAsync(k2)).Str("result"));
        Assert.Equal("three", (await caller.NextAsync(k3)).Str("result"));
    }

    [Theory]
    [InlineData("\"abc\"")]
    [InlineData("1.5")]
    [InlineData("{\"x\":1}")]
    [InlineData("null")]
    [InlineData("99999999999")]
    public async Task CallInt_WithAResultThatIsNotAnInt_IsInvalidArgument(string resultJson)
    {
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("push/callInt", new { });
        var call = await client.NextServerCallAsync();
        await client.AnswerAsync(call["id"], JsonNode.Parse(resultJson));
        (await client.NextAsync(key)).AssertError("INVALID_ARGUMENT", 400);
        await client.PingAsync();
    }

    [Fact]
    public async Task CallInt_WithAnInt_ReturnsIt()
    {
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("push/callInt", new { });
        var call = await client.NextServerCallAsync();
        await client.AnswerAsync(call["id"], -42);
        Assert.Equal(-42, (await client.NextAsync(key)).Long("result"));
    }

    [Fact]
    public async Task RepliesWithUnknownIds_AreIgnored_WithoutClosingTheConnection()
    {
        await using var client = await Gateway.ConnectAsync();
        // More of them than Limits:MaxBadMessages (10): they are not bad messages, just answers nobody waits for.
        for (int i = 0; i < 15; i++)
        {
            await client.SendTextAsync($$"""{"id":{{987_654 + i}},"result":{{i}}}""");
            await client.SendTextAsync($$$"""{"id":"stray-{{{i}}}","error":{"code":"NOT_FOUND","status":404,"message":"x","retryable":false}}""");
        }
        await client.SendTextAsync("""{"id":0,"result":null}""");
        await client.SendTextAsync("""{"id":-1,"result":1}""");
        await client.AssertNothingPushedAsync("stray answers get no reply");
        Assert.Single(client.Received); // the pong
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, client.Socket.State);

        // Real calls still work.
        string key = await client.SendRequestAsync("push/call", new { input = "real" });
        var call = await ExpectCallAsync(client, input: "real");
        await client.AnswerAsync(call["id"], "answered");
        Assert.Equal("answered", (await client.NextAsync(key)).Str("result"));
    }

    [Fact]
    public async Task TheServersCallIdsAndTheClientsRequestIds_AreSeparate()
    {
        // A fresh connection: the server's first call to it has id 1, and the client's own request has id 1 too.
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("push/call", new { input = "same id" }, id: 1);
        var call = await ExpectCallAsync(client, input: "same id");
        Assert.Equal(1, call["id"]!.GetValue<long>());
        // An answer with the id as a string is another id: ignored.
        await client.SendTextAsync("""{"id":"1","result":"string id"}""");
        await client.AssertNothingPushedAsync();
        Assert.DoesNotContain(client.ReceivedFor(key), m => !m.ContainsKey("path")); // only the server's call has id 1 so far
        // The result for the server's call 1 answers it; the client's request 1 then gets its own result.
        await client.AnswerAsync(1, "answer to the server");
        var reply = await client.NextAsync(key);
        Assert.Equal("answer to the server", reply.Str("result"));
        Assert.Equal(1, reply.Long("id"));
    }

    [Fact]
    public async Task ProgressFromTheClient_IsAccepted_AndTheResultStillCounts()
    {
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("push/call", new { input = "work" });
        var call = await client.NextServerCallAsync();
        await client.SendJsonAsync(new JsonObject { ["id"] = call["id"]!.DeepClone(), ["progress"] = new JsonObject { ["pct"] = 10 } });
        await client.SendJsonAsync(new JsonObject { ["id"] = call["id"]!.DeepClone(), ["progress"] = new JsonObject { ["pct"] = 90 } });
        await client.SendJsonAsync(new JsonObject { ["id"] = 123_456_789, ["progress"] = 1 }); // progress for no call at all
        await client.AssertNothingPushedAsync("progress is not answered");
        Assert.Empty(client.ReceivedFor(key)); // and does not end the call

        await client.AnswerAsync(call["id"], "done");
        Assert.Equal("done", (await client.NextAsync(key)).Str("result"));
    }

    [Fact]
    public async Task EchoCallback_EndToEnd_ResultErrorAndCancel()
    {
        await using var client = await Gateway.ConnectAsync();

        string key = await client.SendRequestAsync("echo/callback", new { text = "hi" });
        var call = await ExpectCallAsync(client, "client/echo", JsonNode.Parse("""{"text":"hi"}"""));
        await client.AnswerAsync(call["id"], JsonNode.Parse("""{"text":"hi back"}"""));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"text":"hi back"}"""), (await client.NextAsync(key))["result"]));

        key = await client.SendRequestAsync("echo/callback", new { text = "fail" });
        call = await client.NextServerCallAsync();
        await client.AnswerErrorAsync(call["id"], PushKit.ErrorObject("NOT_FOUND", 404, "this client has no client/echo", false));
        var error = (await client.NextAsync(key)).AssertError("NOT_FOUND", 404);
        Assert.Equal("this client has no client/echo", error.Str("message"));

        key = await client.SendRequestAsync("echo/callback", new { text = "never mind" });
        call = await client.NextServerCallAsync();
        await client.SendCancelAsync(key);
        Assert.Equal(true, (await client.NextAsync(RpcClient.Key(call["id"]))).Bool("cancel"));
        await client.AssertNothingPushedAsync();
        Assert.Empty(client.ReceivedFor(key));
    }

    [Fact]
    public async Task CallingAConnectionThatIsNotOpen_IsNotFound()
    {
        await using var caller = await Gateway.ConnectAsync();
        string node = Gateway.Hub().NodeId;
        foreach (var id in new[] { node + ".999999999", "nosuchnode.1", "not-an-id" })
            (await caller.CallAsync("push/call", new { connectionId = id })).AssertError("NOT_FOUND", 404);

        var gone = await Gateway.ConnectAsync();
        string goneId = await gone.IdAsync();
        await gone.DisposeAsync();
        Assert.True(await Waits.WaitUntilAsync(async () =>
            (await caller.CallAsync("push/call", new { connectionId = goneId, timeoutMs = 200 }))["error"]?.Str("code") == "NOT_FOUND"),
            "a closed connection could still be called");
    }
}
