using System.Text.Json;

namespace Gateway.TestPlugin;

public sealed class PushTarget
{
    public string ConnectionId { get; set; } = "";
    public string UserId { get; set; } = "";
    public string Topic { get; set; } = "";
    public string Event { get; set; } = "test.event";
    public JsonElement? Data { get; set; }
}

public sealed class CallInput
{
    /// <summary>The connection to call; empty = the caller itself.</summary>
    public string ConnectionId { get; set; } = "";
    public string Path { get; set; } = "client/echo";
    public JsonElement? Input { get; set; }
    public int TimeoutMs { get; set; } = 5000;
}

public sealed class UserInput
{
    public string? UserId { get; set; }
}

/// <summary>
/// The push API as plugins see it (IConnections/ITopics through the RpcContext), for the push tests. Every target
/// is a cluster-wide connection id or user id, so the same procedures drive single-node and multi-node tests.
/// </summary>
[RpcService("push")]
public sealed class PushService
{
    /// <summary>IConnections.SendEventAsync: true when queued (or handed to the connection's node).</summary>
    [Rpc("toConnection")]
    public ValueTask<bool> ToConnection(PushTarget input, RpcContext context) =>
        context.Connections.SendEventAsync(input.ConnectionId, input.Event, input.Data, context.CancellationToken);

    [Rpc("toUser")]
    public ValueTask<bool> ToUser(PushTarget input, RpcContext context) =>
        context.Connections.SendEventToUserAsync(input.UserId, input.Event, input.Data, context.CancellationToken);

    [Rpc("broadcast")]
    public async Task Broadcast(PushTarget input, RpcContext context) =>
        await context.Connections.BroadcastAsync(input.Event, input.Data, context.CancellationToken);

    [Rpc("publish")]
    public async Task Publish(PushTarget input, RpcContext context) =>
        await context.Topics.PublishAsync(input.Topic, input.Event, input.Data, context.CancellationToken);

    /// <summary>A server-side subscribe of any connection (no pattern check); empty connection id = the caller.</summary>
    [Rpc("subscribe")]
    public ValueTask<bool> Subscribe(PushTarget input, RpcContext context) =>
        context.Topics.SubscribeAsync(Or(input.ConnectionId, context), input.Topic, context.CancellationToken);

    [Rpc("unsubscribe")]
    public ValueTask<bool> Unsubscribe(PushTarget input, RpcContext context) =>
        context.Topics.UnsubscribeAsync(Or(input.ConnectionId, context), input.Topic, context.CancellationToken);

    /// <summary>Awaits RpcContext.SetUserIdAsync: when it answers, every node can reach this connection by that user.</summary>
    [Rpc("setUser")]
    public async Task<string?> SetUser(UserInput input, RpcContext context)
    {
        await context.SetUserIdAsync(input.UserId);
        return context.UserId;
    }

    /// <summary>The setter: the local index changes now, the backplane registration in the background.</summary>
    [Rpc("setUserNow")]
    public string? SetUserNow(UserInput input, RpcContext context)
    {
        context.UserId = input.UserId;
        return context.UserId;
    }

    [Rpc("whoami")]
    public string WhoAmI(RpcContext context) => context.ConnectionId;

    /// <summary>IConnections.CallAsync: the client's result as JSON; its error (or the gateway's) comes back as this call's error.</summary>
    [Rpc("call")]
    public Task<JsonElement> Call(CallInput input, RpcContext context) =>
        context.Connections.CallAsync<JsonElement>(Or(input.ConnectionId, context), input.Path, input.Input,
            TimeSpan.FromMilliseconds(input.TimeoutMs), context.CancellationToken);

    /// <summary>Like push/call, but the client's result must be an integer.</summary>
    [Rpc("callInt")]
    public Task<int> CallInt(CallInput input, RpcContext context) =>
        context.Connections.CallAsync<int>(Or(input.ConnectionId, context), input.Path, input.Input,
            TimeSpan.FromMilliseconds(input.TimeoutMs), context.CancellationToken);

    private static string Or(string connectionId, RpcContext context) => string.IsNullOrEmpty(connectionId) ? context.ConnectionId : connectionId;
}

/// <summary>
/// The plugin's topic policy, for the tests: <c>private:{user}</c> is open to that user only, <c>room:forbidden</c>
/// is denied even where a pattern opens <c>room:*</c>, <c>open:*</c> is allowed without any pattern; the rest is
/// left to the configured patterns.
/// </summary>
public sealed class TestTopicPolicy : ITopicPolicy
{
    public ValueTask<TopicAccess> CanSubscribeAsync(RpcContext context, string topic)
    {
        if (topic.StartsWith("private:", StringComparison.Ordinal))
            return new(context.UserId is { } user && topic == "private:" + user ? TopicAccess.Allow : TopicAccess.Deny);
        if (topic == "room:forbidden") return new(TopicAccess.Deny);
        if (topic.StartsWith("open:", StringComparison.Ordinal)) return new(TopicAccess.Allow);
        if (topic == "policy:throws") throw new InvalidOperationException("the test policy fails on purpose");
        return new(TopicAccess.Default);
    }
}
