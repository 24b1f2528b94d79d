using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests;

/// <summary>Every kind of exchange of PROTOCOL.md: request, notification, subscription, progress, built-ins.</summary>
public sealed class KindsTests(StandardGatewayFixture fixture) : IClassFixture<StandardGatewayFixture>
{
    private RpcGateway Gateway => fixture.Gateway;

    [Fact]
    public async Task Request_AnswersOneResultWithItsId()
    {
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("echo/echo", new { text = "hello", number = 42 });
        var messages = await client.ReadUntilTerminalAsync(key);

        var reply = Assert.Single(messages);
        Assert.Equal(JsonNode.Parse(key)!.GetValue<string>(), reply.Str("id"));
        Assert.True(Json.JsonEquals(JsonNode.Parse("""{"text":"hello","number":42}"""), reply["result"]), reply.ToJsonString());
        Assert.False(reply.ContainsKey("error"));
        await client.PingAsync();
        Assert.Single(client.ReceivedFor(key));
    }

    [Theory]
    [InlineData("5")]
    [InlineData("-1.5e3")]
    [InlineData("\"text\"")]
    [InlineData("[1,\"two\",{\"three\":[3]}]")]
    [InlineData("{\"any\":{\"keys\":[true,false,null]},\"x\":\"y\"}")]
    [InlineData("true")]
    [InlineData("null")]
    public async Task EchoEcho_ReturnsAnyJsonInputUnchanged(string input)
    {
        // What README promises and every client author tries first: not only the shape of the typed example (echo/typed).
        await using var client = await Gateway.ConnectAsync();
        await client.SendTextAsync($$"""{"id":1,"path":"echo/echo","input":{{input}}}""");
        var reply = await client.NextAsync("1");
        Assert.False(reply.ContainsKey("error"), reply.ToJsonString());
        Assert.True(reply.ContainsKey("result"), reply.ToJsonString());
        Assert.True(Json.JsonEquals(JsonNode.Parse(input), reply["result"]), reply.ToJsonString());
    }

    [Fact]
    public async Task Request_IdIsEchoedExactly_IntegerAndString()
    {
        await using var client = await Gateway.ConnectAsync();
        await client.SendTextAsync("""{"id":7,"path":"$ping"}""");
        var byInt = await client.NextAsync("7");
        Assert.Equal(JsonValueKindOf("7"), byInt["id"]!.GetValueKind());
        Assert.Equal(7, byInt.Long("id"));

        await client.SendTextAsync("""{"id":"7","path":"$ping"}""");
        var byString = await client.NextAsync("\"7\"");
        Assert.Equal("7", byString.Str("id"));

        await client.SendTextAsync("""{"path":"echo/echo","input":{"text":"x"},"id":"last-member"}""");
        var last = await client.NextAsync("\"last-member\"");
        Assert.Equal("x", last["result"].Str("text"));
    }

    private static System.Text.Json.JsonValueKind JsonValueKindOf(string json) => JsonNode.Parse(json)!.GetValueKind();

    [Fact]
    public async Task Notification_IsNeverAnswered_TheNextMessageIsThePong()
    {
        await using var client = await Gateway.ConnectAsync();
        await client.SendNotificationAsync("echo/log", new { level = "debug", message = "from the notification test" });
        // Notifications that fail are never answered either: unknown procedure, bad input, a subscription without an id, a built-in.
        await client.SendNotificationAsync("nope/nothing", new { a = 1 });
        await client.SendNotificationAsync("echo/typed", new { number = "not a number" });
        await client.SendNotificationAsync("echo/fail", new { code = "NOT_FOUND" });
        await client.SendNotificationAsync("echo/crash");
        await client.SendNotificationAsync("echo/count", new { n = 3 });
        await client.SendNotificationAsync("$ping");
        string ping = await client.SendRequestAsync("$ping");

        var next = await client.NextAnyAsync();
        Assert.Equal(ping, RpcClient.Key(next["id"]));
        Assert.Equal("pong", next.Str("result"));
        // And nothing arrives late: a second round trip is again the very next message.
        string ping2 = await client.SendRequestAsync("$ping");
        var next2 = await client.NextAnyAsync();
        Assert.Equal(ping2, RpcClient.Key(next2["id"]));
        Assert.Equal(2, client.Received.Count);
    }

    [Fact]
    public async Task Subscription_SendsEveryItemInOrderThenDone()
    {
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("echo/count", new { n = 100 });
        var messages = await client.ReadUntilTerminalAsync(key);

        Assert.Equal(101, messages.Count);
        for (int i = 0; i < 100; i++)
        {
            Assert.True(messages[i].IsData(), messages[i].ToJsonString());
            Assert.Equal(i, messages[i]["data"].Long("i"));
        }
        var done = messages[100];
        Assert.True(done.IsDone());
        Assert.True(done.ContainsKey("data"));
        Assert.Null(done["data"]);
        await client.PingAsync();
        Assert.Equal(101, client.ReceivedFor(key).Count);
    }

    [Fact]
    public async Task Subscription_ThousandsOfFastItemsStayInOrder()
    {
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("echo/count", new { n = 5000, delayMs = 0 });
        var messages = await client.ReadUntilTerminalAsync(key, TimeSpan.FromSeconds(20));
        Assert.Equal(5001, messages.Count);
        for (int i = 0; i < 5000; i++) Assert.Equal(i, messages[i]["data"].Long("i"));
        Assert.True(messages[^1].IsDone());
    }

    [Fact]
    public async Task Subscription_WithNoItems_IsJustDone()
    {
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("echo/count", new { n = 0 });
        var messages = await client.ReadUntilTerminalAsync(key);
        var done = Assert.Single(messages);
        Assert.True(done.IsDone());
    }

    [Fact]
    public async Task Subscription_FailingBeforeItsFirstItem_EndsWithAnErrorAndNoDone()
    {
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("echo/count", new { n = -1 });
        var messages = await client.ReadUntilTerminalAsync(key);
        var error = Assert.Single(messages);
        error.AssertError("INVALID_ARGUMENT", 400);
        await client.PingAsync();
        Assert.Single(client.ReceivedFor(key));
    }

    [Fact]
    public async Task Progress_ComesBeforeTheResult_NeverAfter()
    {
        await using var client = await Gateway.ConnectAsync();
        string key = await client.SendRequestAsync("echo/slow", new { delayMs = 350 });
        var messages = await client.ReadUntilTerminalAsync(key);

        var result = messages[^1];
        Assert.True(result.IsResult(), result.ToJsonString());
        Assert.Equal(350, result["result"].Long("delayMs"));
        var progress = messages.Take(messages.Count - 1).ToList();
        // One report per wait of up to 100 ms: about four on an idle machine, but a loaded one may stretch a wait past the
        // whole 350 ms, so only "at least one, and all before the result" is certain.
        Assert.True(progress.Count >= 1, $"expected progress before the result, got {progress.Count} progress messages");
        Assert.All(progress, p => Assert.True(p.IsProgress(), p.ToJsonString()));
        var elapsed = progress.Select(p => p["progress"].Long("elapsedMs") ?? -1).ToList();
        // The handler reports after each wait of 100 ms (the last one shorter, to reach 350): progress i comes at least
        // min(100·(i+1), 350) ms after the start (5 ms for the timer's granularity), and the last at 350.
        for (int i = 0; i < elapsed.Count; i++)
            Assert.True(elapsed[i] >= Math.Min(100 * (i + 1), 350) - 5, $"progress {i} at {elapsed[i]} ms: {string.Join(", ", elapsed)}");
        Assert.True(elapsed[^1] >= 345, $"the last progress at {elapsed[^1]} ms");
        Assert.Equal(elapsed.OrderBy(e => e), elapsed);

        await client.PingAsync();
        Assert.Equal(messages.Count, client.ReceivedFor(key).Count);
    }

    [Fact]
    public async Task Ping_AnswersPong()
    {
        await using var client = await Gateway.ConnectAsync();
        var reply = await client.CallAsync("$ping");
        Assert.Equal("pong", reply.Str("result"));
    }

    [Fact]
    public async Task Describe_ListsProceduresWithKindSchemasSummaryAuthAndTopics()
    {
        await using var client = await Gateway.ConnectAsync();
        var result = Assert.IsType<JsonObject>(await client.ResultAsync("$describe"));
        var list = Assert.IsType<JsonArray>(result["procedures"]);
        var names = list.Select(p => p.Str("name")!).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names); // sorted by name, built-ins included
        var byName = list.OfType<JsonObject>().ToDictionary(p => p.Str("name")!);

        // Kinds.
        Assert.Equal("request", byName["echo/typed"].Str("kind"));
        Assert.Equal("subscription", byName["echo/count"].Str("kind"));
        Assert.Equal("notification", byName["echo/log"].Str("kind"));
        Assert.Equal("request", byName["$ping"].Str("kind"));
        Assert.Equal("subscription", byName["test/ticks"].Str("kind"));
        Assert.Equal("notification", byName["test/waitNote"].Str("kind"));

        // Input and output as JSON Schema with the wire's (camelCase) member names; a subscription's output is one item.
        var typedInput = byName["echo/typed"]["input"]!;
        Assert.Equal("object", typedInput.Str("type"));
        Assert.NotNull(typedInput["properties"]!["text"]);
        Assert.NotNull(typedInput["properties"]!["number"]);
        // Web defaults read numbers from strings too, and the schema says so: ["string","integer"] with a pattern.
        Assert.Contains("integer", Types(byName["echo/count"]["output"]!["properties"]!["i"]!));
        Assert.Contains("integer", Types(byName["test/int"]["input"]!));
        Assert.NotNull(byName["test/record"]["output"]!["properties"]!["x"]);
        Assert.Null(byName["echo/log"]["output"]);          // returns nothing
        Assert.Null(byName["test/sync"]["input"]);          // takes nothing
        Assert.Null(byName["$ping"]["input"]);
        Assert.Equal("string", byName["$ping"]["output"].Str("type"));
        Assert.IsType<JsonObject>(byName["echo/echo"]["input"]); // any JSON: the empty schema
        Assert.Equal("string", byName["$subscribe"]["input"]!["properties"]!["topic"].Str("type"));

        // Summaries from Gateway.Samples.xml (shipped next to the DLL); the test plugin ships none.
        Assert.StartsWith("Streams {\"i\":0}", byName["echo/count"].Str("summary"));
        Assert.Contains("Msg", byName["echo/typed"].Str("summary"));
        Assert.Null(byName["test/int"]["summary"]);

        // What calling needs: open to anyone until authorization says otherwise.
        var auth = byName["echo/echo"]["auth"]!;
        Assert.False(auth["required"]!.GetValue<bool>());
        Assert.Empty(auth["roles"]!.AsArray());
        Assert.Empty(auth["policies"]!.AsArray());

        // No pattern configured for this gateway.
        Assert.Empty(result["topics"]!.AsArray());
    }

    private static IEnumerable<string> Types(JsonNode schema) => schema["type"] is JsonArray many
        ? many.Select(t => t!.GetValue<string>())
        : [schema["type"]!.GetValue<string>()];
}
