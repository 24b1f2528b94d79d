using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;
using Gateway.Server;
using Gateway.Backplane;
using Gateway.Server.Push;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Rpc.Tests.Push;

/// <summary>Shared steps of the push tests: unique names, the push/* procedures of the test plugin, event checks.</summary>
internal static class PushKit
{
    /// <summary>The settings of the push test gateways: clients may $subscribe to room:* (plus the test plugin's policy).</summary>
    public static Dictionary<string, string?> Settings(IDictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Gateway:Topics:ClientSubscribe:0"] = "room:*",
        };
        if (more is not null)
        {
            foreach (var (k, v) in more) settings[k] = v;
        }
        return settings;
    }

    public static Task<RpcGateway> StartAsync(IDictionary<string, string?>? more = null) => RpcGateway.StartAsync(Settings(more));

    /// <summary>A gateway that is one node of the cluster on <paramref name="bus"/>.</summary>
    public static async Task<RpcGateway> StartNodeAsync(InMemoryBus bus, IDictionary<string, string?>? more = null)
    {
        var folder = new PluginFolder(Plugins.Standard);
        try
        {
            return await RpcGateway.StartAsync(folder, RpcGateway.Settings(folder.PluginsPath, Settings(more)),
                before: s => s.AddSingleton<IBackplane>(new InMemoryBackplane(bus)));
        }
        catch
        {
            folder.Dispose();
            throw;
        }
    }

    public static PushHub Hub(this RpcGateway gateway) => gateway.Provider.GetRequiredService<PushHub>();

    public static GatewayMetrics Metrics(this RpcGateway gateway) => gateway.Provider.GetRequiredService<GatewayMetrics>();

    public static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A fresh topic that clients may $subscribe to (room:*).</summary>
    public static string Room() => Unique("room:t");

    /// <summary>The connection's cluster-wide id (push/whoami).</summary>
    public static async Task<string> IdAsync(this RpcClient client) => (await client.ResultAsync("push/whoami"))!.GetValue<string>();

    /// <summary>$subscribe, asserting the answer {"topic":…,"subscribed":true}.</summary>
    public static async Task SubscribeAsync(this RpcClient client, string topic)
    {
        var result = await client.ResultAsync("$subscribe", new { topic });
        Assert.Equal(topic, result.Str("topic"));
        Assert.True(result.Bool("subscribed"), $"$subscribe {topic}: {result?.ToJsonString()}");
    }

    /// <summary>push/publish of <paramref name="data"/> to <paramref name="topic"/> as event <paramref name="eventName"/>; returns once the publish returned.</summary>
    public static async Task PublishAsync(this RpcClient client, string topic, object? data, string eventName = "test.event")
    {
        var reply = await client.CallAsync("push/publish", new { topic, @event = eventName, data });
        Assert.True(reply.ContainsKey("result"), $"push/publish {topic}: {reply.ToJsonString()}");
    }

    public static async Task<bool> BoolAsync(this RpcClient client, string path, object? input)
    {
        var result = await client.ResultAsync(path, input);
        Assert.True(result is JsonValue, $"{path}: expected a boolean, got {result?.ToJsonString() ?? "null"}");
        return result!.GetValue<bool>();
    }

    /// <summary>push/setUser (awaits SetUserIdAsync: every node knows when it answers); null clears it.</summary>
    public static async Task SetUserAsync(this RpcClient client, string? userId)
    {
        var result = await client.ResultAsync("push/setUser", new { userId });
        Assert.Equal(userId, result?.GetValue<string>());
    }

    /// <summary>The next event must be <paramref name="eventName"/> on <paramref name="topic"/> (null: a direct event, no topic member) with that data.</summary>
    public static async Task<JsonObject> ExpectEventAsync(this RpcClient client, string eventName, string? topic, object? data, TimeSpan? timeout = null)
    {
        var e = await client.NextEventAsync(timeout);
        Assert.Equal(eventName, e.Str("event"));
        if (topic is null) Assert.False(e.ContainsKey("topic"), $"a direct event has no topic: {e.ToJsonString()}");
        else Assert.Equal(topic, e.Str("topic"));
        if (data is not null)
        {
            var expected = data as JsonNode ?? System.Text.Json.JsonSerializer.SerializeToNode(data);
            Assert.True(JsonNode.DeepEquals(expected, e["data"]), $"expected data {expected?.ToJsonString()}, got {e.ToJsonString()}");
        }
        Assert.False(e.ContainsKey("id"), $"an event has no id: {e.ToJsonString()}");
        return e;
    }



    /// <summary>Everything this client received with the id of a server call: the call itself, then exactly one cancel.</summary>
    public static void AssertCallThenOneCancel(RpcClient client, string callKey)
    {
        var messages = client.ReceivedFor(callKey);
        Assert.True(messages.Count == 2, $"expected the call and one cancel for id {callKey}, got: {string.Join(", ", messages.Select(m => m.ToJsonString()))}");
        Assert.True(messages[0].ContainsKey("path"), messages[0].ToJsonString());
        Assert.Equal(true, messages[1].Bool("cancel"));
    }

    /// <summary>An error object as a client answers a call from the server.</summary>
    public static JsonObject ErrorObject(string code, int status, string message, bool retryable, JsonNode? details = null, long? retryAfterMs = null)
    {
        var error = new JsonObject { ["code"] = code, ["status"] = status, ["message"] = message, ["retryable"] = retryable };
        if (retryAfterMs is { } ms) error["retryAfterMs"] = ms;
        if (details is not null) error["details"] = details;
        return error;
    }
}
