using System.Text.Json.Serialization;

namespace Gateway.Server.Rpc;

/// <summary>The answer of <c>$subscribe</c> and <c>$unsubscribe</c>: the topic and whether the connection is now subscribed.</summary>
public sealed record TopicReply(
    [property: JsonPropertyName("topic")] string Topic,
    [property: JsonPropertyName("subscribed")] bool Subscribed);
