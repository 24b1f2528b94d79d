using System.Text.Json;
using System.Text.Json.Nodes;

namespace Gateway.Tests.Shared;

/// <summary>Small readers for reply envelopes.</summary>
public static class Json
{
    public static string? Str(this JsonNode? node, string name) => node?[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    public static long? Long(this JsonNode? node, string name) => node?[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<long>() : null;

    public static bool? Bool(this JsonNode? node, string name) => node?[name] is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : null;

    public static bool IsData(this JsonObject m) => m.ContainsKey("data") && !m.ContainsKey("done");
    public static bool IsDone(this JsonObject m) => m.Bool("done") == true;
    public static bool IsProgress(this JsonObject m) => m.ContainsKey("progress");
    public static bool IsResult(this JsonObject m) => m.ContainsKey("result");
    public static bool IsError(this JsonObject m) => m["error"] is JsonObject;

    /// <summary>Asserts that the message is an error reply with that code and status; returns its error object.</summary>
    public static JsonObject AssertError(this JsonObject reply, string code, int status)
    {
        Assert.True(reply["error"] is JsonObject, $"expected an error {code}, got {reply.ToJsonString()}");
        var error = (JsonObject)reply["error"]!;
        Assert.Equal(code, error.Str("code"));
        Assert.Equal(status, error.Long("status"));
        Assert.False(string.IsNullOrEmpty(error.Str("message")), "an error carries a message");
        Assert.NotNull(error.Bool("retryable"));
        return error;
    }

    public static bool JsonEquals(JsonNode? a, JsonNode? b) => JsonNode.DeepEquals(a, b);
}
