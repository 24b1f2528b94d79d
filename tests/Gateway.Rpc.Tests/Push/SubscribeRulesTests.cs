using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests.Push;

/// <summary>
/// Who may $subscribe to what: the Gateway:Topics:ClientSubscribe patterns, the test plugin's ITopicPolicy (allow,
/// deny, no opinion, a policy that throws), malformed names and inputs, the per-connection limit, idempotence.
/// Every allowed subscribe is proven by an event arriving; every refused one by an event not arriving.
/// </summary>
public sealed class SubscribeRulesTests(PushGatewayFixture fixture) : IClassFixture<PushGatewayFixture>
{
    private RpcGateway Gateway => fixture.Gateway;

    /// <summary>Publishes to <paramref name="topic"/> and checks whether <paramref name="client"/> received it.</summary>
    private async Task AssertReceivesAsync(RpcClient client, string topic, bool expected)
    {
        await using var publisher = await Gateway.ConnectAsync();
        await publisher.PublishAsync(topic, "probe");
        if (expected) await client.ExpectEventAsync("test.event", topic, "probe");
        await client.AssertNothingPushedAsync(expected ? "one event" : "not subscribed to " + topic);
    }

    [Theory]
    [InlineData("room:1")]
    [InlineData("room:")]            // '*' matches the empty run too
    [InlineData("room:a:b:c")]
    [InlineData("room:*")]           // a literal star in a topic name is just a character
    public async Task ATopicMatchingAConfiguredPattern_IsAllowed(string name)
    {
        string topic = name + (name.EndsWith(':') ? "" : "-" + Guid.NewGuid().ToString("N")[..6]);
        await using var client = await Gateway.ConnectAsync();
        await client.SubscribeAsync(topic);
        await AssertReceivesAsync(client, topic, expected: true);
        await client.ResultAsync("$unsubscribe", new { topic });
    }

    [Theory]
    [InlineData("lobby:1")]
    [InlineData("room")]             // the pattern needs the colon
    [InlineData("xroom:1")]          // patterns match the whole name
    [InlineData("ROOM:1")]           // case-sensitive
    [InlineData("ticker")]           // in the default appsettings, not in this gateway's settings
    public async Task ATopicMatchingNoPattern_IsPermissionDenied(string topic)
    {
        await using var client = await Gateway.ConnectAsync();
        var reply = await client.CallAsync("$subscribe", new { topic });
        var error = reply.AssertError("PERMISSION_DENIED", 403);
        Assert.False(error.Bool("retryable"));
        Assert.Equal(0, Gateway.Hub().SubscriberCount(topic));
        await AssertReceivesAsync(client, topic, expected: false);
    }

    [Fact]
    public async Task Policy_AllowsOpenTopics_WithoutAnyPattern()
    {
        string topic = PushKit.Unique("open:");
        await using var client = await Gateway.ConnectAsync();
        await client.SubscribeAsync(topic);
        await AssertReceivesAsync(client, topic, expected: true);
    }

    [Fact]
    public async Task Policy_DeniesRoomForbidden_EvenThoughAPatternMatchesIt()
    {
        await using var client = await Gateway.ConnectAsync();
        (await client.CallAsync("$subscribe", new { topic = "room:forbidden" })).AssertError("PERMISSION_DENIED", 403);
        await AssertReceivesAsync(client, "room:forbidden", expected: false);
        // Its neighbours are left to the pattern (the policy has no opinion about them).
        string neighbour = "room:forbidden2-" + Guid.NewGuid().ToString("N")[..6];
        await client.SubscribeAsync(neighbour);
        await AssertReceivesAsync(client, neighbour, expected: true);
    }

    [Fact]
    public async Task Policy_PrivateTopic_IsOpenToItsUserOnly()
    {
        string user = PushKit.Unique("me-"), someoneElse = PushKit.Unique("them-");
        string topic = "private:" + user;
        await using var anonymous = await Gateway.ConnectAsync();
        await using var other = await Gateway.ConnectAsync();
        await using var owner = await Gateway.ConnectAsync();
        await other.SetUserAsync(someoneElse);
        await owner.SetUserAsync(user);

        (await anonymous.CallAsync("$subscribe", new { topic })).AssertError("PERMISSION_DENIED", 403);
        (await other.CallAsync("$subscribe", new { topic })).AssertError("PERMISSION_DENIED", 403);
        await owner.SubscribeAsync(topic);

        await AssertReceivesAsync(owner, topic, expected: true);
        await anonymous.AssertNothingPushedAsync();
        await other.AssertNothingPushedAsync();

        // The policy is asked at every subscribe: after a change of user the old private topic is refused, the new one allowed.
        await owner.SetUserAsync(someoneElse);
        (await owner.CallAsync("$subscribe", new { topic })).AssertError("PERMISSION_DENIED", 403);
        await owner.SubscribeAsync("private:" + someoneElse);
    }

    [Fact]
    public async Task APolicyThatThrows_IsInternalWithAGenericMessage_AndTheConnectionGoesOn()
    {
        await using var client = await Gateway.ConnectAsync();
        var error = (await client.CallAsync("$subscribe", new { topic = "policy:throws" })).AssertError("INTERNAL", 500);
        Assert.Equal("internal error", error.Str("message"));
        Assert.False(error.ContainsKey("details"), error.ToJsonString());
        Assert.DoesNotContain("on purpose", error.ToJsonString());
        Assert.Equal(0, Gateway.Hub().SubscriberCount("policy:throws"));
        // Still usable.
        string topic = PushKit.Room();
        await client.SubscribeAsync(topic);
        await AssertReceivesAsync(client, topic, expected: true);
    }

    public static TheoryData<string> MalformedTopics => new()
    {
        "",
        " ",
        "room: x",
        "room:\tx",
        "room:x\n",
        "room:\u0001",
        "room:\u007f",
        "room:\u00a0x",                       // a non-breaking space is whitespace too
        "room:" + new string('x', 252),       // 257 characters
    };

    [Theory]
    [MemberData(nameof(MalformedTopics))]
    public async Task AMalformedTopic_IsInvalidArgument_ForSubscribeUnsubscribeAndServerSubscribe(string topic)
    {
        await using var client = await Gateway.ConnectAsync();
        (await client.CallAsync("$subscribe", new { topic })).AssertError("INVALID_ARGUMENT", 400);
        (await client.CallAsync("$unsubscribe", new { topic })).AssertError("INVALID_ARGUMENT", 400);
        (await client.CallAsync("push/subscribe", new { topic })).AssertError("INVALID_ARGUMENT", 400);
        await client.PingAsync();
    }

    [Fact]
    public async Task TheLongestTopic_256Characters_IsAccepted()
    {
        string topic = "room:" + new string('y', 251);
        Assert.Equal(256, topic.Length);
        await using var client = await Gateway.ConnectAsync();
        await client.SubscribeAsync(topic);
        await AssertReceivesAsync(client, topic, expected: true);
        await client.ResultAsync("$unsubscribe", new { topic });
    }

    public static TheoryData<string> BadInputs => new()
    {
        """{"id":"b","path":"$subscribe"}""",
        """{"id":"b","path":"$subscribe","input":null}""",
        """{"id":"b","path":"$subscribe","input":{}}""",
        """{"id":"b","path":"$subscribe","input":{"topic":42}}""",
        """{"id":"b","path":"$subscribe","input":"room:1"}""",
        """{"id":"b","path":"$unsubscribe"}""",
        """{"id":"b","path":"$unsubscribe","input":{"topic":null}}""",
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task AMissingOrMistypedInput_IsInvalidArgument(string message)
    {
        await using var client = await Gateway.ConnectAsync();
        await client.SendTextAsync(message);
        var reply = await client.NextAsync(RpcClient.Key("b"));
        reply.AssertError("INVALID_ARGUMENT", 400);
        await client.AssertNothingPushedAsync();
    }

    [Fact]
    public async Task SubscribingTwice_IsIdempotent_OneEventPerPublish_AndOneUnsubscribeEndsIt()
    {
        string topic = PushKit.Room();
        await using var client = await Gateway.ConnectAsync();
        await client.SubscribeAsync(topic);
        await client.SubscribeAsync(topic);
        Assert.True(await client.BoolAsync("push/subscribe", new { topic })); // server-side, same connection
        Assert.Equal(1, Gateway.Hub().SubscriberCount(topic));

        await AssertReceivesAsync(client, topic, expected: true);

        var reply = await client.ResultAsync("$unsubscribe", new { topic });
        Assert.False(reply.Bool("subscribed"));
        Assert.Equal(0, Gateway.Hub().SubscriberCount(topic));
        await AssertReceivesAsync(client, topic, expected: false);
    }

    [Fact]
    public async Task UnsubscribingATopicNotSubscribed_AnswersSubscribedFalse_AndLeavesOthersAlone()
    {
        string kept = PushKit.Room(), never = PushKit.Room();
        await using var client = await Gateway.ConnectAsync();
        await client.SubscribeAsync(kept);

        var reply = await client.ResultAsync("$unsubscribe", new { topic = never });
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse($$"""{"topic":"{{never}}","subscribed":false}"""), reply), reply?.ToJsonString());
        // Even a topic no client may subscribe to: nothing to leave, no error.
        var denied = await client.ResultAsync("$unsubscribe", new { topic = "lobby:1" });
        Assert.False(denied.Bool("subscribed"));
        Assert.False(await client.BoolAsync("push/unsubscribe", new { topic = never }));

        await AssertReceivesAsync(client, kept, expected: true);
    }

    [Fact]
    public async Task MaxSubscriptionsPerConnection_IsResourceExhausted_PerConnection()
    {
        await using var gateway = await PushKit.StartAsync(new Dictionary<string, string?> { ["Gateway:Topics:MaxSubscriptionsPerConnection"] = "3" });
        string[] topics = [PushKit.Room(), PushKit.Room(), PushKit.Room()];
        string fourth = PushKit.Room();
        await using var client = await gateway.ConnectAsync();
        await using var other = await gateway.ConnectAsync();
        foreach (var t in topics) await client.SubscribeAsync(t);

        var error = (await client.CallAsync("$subscribe", new { topic = fourth })).AssertError("RESOURCE_EXHAUSTED", 429);
        Assert.Contains("MaxSubscriptionsPerConnection", error.Str("message"));
        // A server-side subscribe counts against the same limit.
        (await client.CallAsync("push/subscribe", new { topic = fourth })).AssertError("RESOURCE_EXHAUSTED", 429);
        Assert.Equal(0, gateway.Hub().SubscriberCount(fourth));
        // At the limit, a topic it has already is still fine (idempotent), and other connections are not limited by it.
        await client.SubscribeAsync(topics[0]);
        await other.SubscribeAsync(fourth);
        await other.SubscribeAsync(topics[1]);

        // One out, one in.
        await client.ResultAsync("$unsubscribe", new { topic = topics[1] });
        await client.SubscribeAsync(fourth);
        await using var publisher = await gateway.ConnectAsync();
        await publisher.PublishAsync(fourth, "in");
        await client.ExpectEventAsync("test.event", fourth, "in");
        await other.ExpectEventAsync("test.event", fourth, "in");
        await publisher.PublishAsync(topics[1], "out");
        await other.ExpectEventAsync("test.event", topics[1], "out");
        await client.AssertNothingPushedAsync();
    }
}
