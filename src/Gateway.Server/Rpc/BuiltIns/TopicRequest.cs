using System.Text.Json.Serialization;

namespace Gateway.Server.Rpc;

/// <summary>The input of <c>$subscribe</c> and <c>$unsubscribe</c>.</summary>
public sealed class TopicRequest
{
    [JsonPropertyName("topic")]
    public string Topic { get; set; } = "";
}
