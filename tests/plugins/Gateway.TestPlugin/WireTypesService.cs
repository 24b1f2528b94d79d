using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.TestPlugin;

public enum Shade { Light, Dark }

[JsonConverter(typeof(JsonStringEnumConverter<Mood>))]
public enum Mood { Calm, Busy }

/// <summary>Every kind of member the MessagePack mapping handles, by setters.</summary>
public sealed class WireTypes
{
    public byte[]? Data { get; set; }
    public ReadOnlyMemory<byte> Memory { get; set; }
    public DateTime When { get; set; }
    public DateTimeOffset At { get; set; }
    [JsonPropertyName("custom_name")] public string? Renamed { get; set; }
    public double Ratio { get; set; }
    public float Small { get; set; }
    public decimal Price { get; set; }
    public long Big { get; set; }
    public int? Maybe { get; set; }
    public bool Flag { get; set; }
    public Guid Id { get; set; }
    public TimeSpan Span { get; set; }
    public Shade Shade { get; set; }
    public Mood Mood { get; set; }
    public List<string>? Tags { get; set; }
    public int[]? Numbers { get; set; }
    public Dictionary<string, int>? Counts { get; set; }
    public WirePoint? Point { get; set; }
    public JsonElement? Any { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Omitted { get; set; }
}

/// <summary>A record: built by its constructor.</summary>
public sealed record WirePoint(int X, int Y, string Label = "origin");

public sealed class Strict
{
    [JsonRequired] public string Name { get; set; } = "";
    public required int Age { get; set; }
}

/// <summary>The MessagePack value mapping, for the wire tests: each procedure returns what it got.</summary>
[RpcService("wire")]
public sealed class WireTypesService
{
    [Rpc("types")]
    public WireTypes Types(WireTypes input, RpcContext context) => input;

    [Rpc("point")]
    public WirePoint Point(WirePoint input, RpcContext context) => input;

    [Rpc("strict")]
    public Strict StrictEcho(Strict input, RpcContext context) => input;

    /// <summary>An error with details (an object with bytes in it).</summary>
    [Rpc("detailed")]
    public int Detailed(RpcContext context) =>
        throw new RpcException(ErrorCode.FailedPrecondition, "not yet", new WirePoint(1, 2, "here")) { RetryAfter = TimeSpan.FromMilliseconds(1500) };

    /// <summary>An event with bytes in its data, to the caller's topic.</summary>
    [Rpc("publishBytes")]
    public async Task PublishBytes(WireTypes input, RpcContext context) =>
        await context.Topics.PublishAsync("wire:bytes", "wire.bytes", input, context.CancellationToken);
}
