using System.Buffers;
using BenchmarkDotNet.Attributes;
using Gateway.Protocol.Rpc;
using MessagePack;

namespace Gateway.Benchmarks;

/// <summary>The envelope through the library's serializer: what a [MessagePackObject] type reads.</summary>
[MessagePackObject]
public sealed class EnvelopeDto
{
    [Key("id")] public object? Id { get; set; }
    [Key("path")] public string? Path { get; set; }
    [Key("input")] public object? Input { get; set; }
}

/// <summary>
/// How gateway.v1.msgpack reads its envelope, the same 64-byte echo envelope every way: the server's span reader
/// (MessagePackEnvelope.Parse, with the library's reader behind it for anything unusual), the library's
/// MessagePackReader alone (what Parse did before, and still does for a multi-segment or malformed message), and
/// MessagePackSerializer into a [MessagePackObject] type; the JSON envelope (Utf8JsonReader) for scale.
/// </summary>
[MemoryDiagnoser]
public class MessagePackEnvelopeBenchmarks
{
    private readonly char[] _path = new char[JsonEnvelope.MaxPathLength];
    private ReadOnlySequence<byte> _message, _json;

    [GlobalSetup]
    public void Setup()
    {
        string text = new('x', 53);
        _message = new ReadOnlySequence<byte>(MessagePackSerializer.Serialize(new Dictionary<string, object>
        {
            ["id"] = 1, ["path"] = "bench/echo", ["input"] = new Dictionary<string, object> { ["text"] = text },
        }));
        _json = new ReadOnlySequence<byte>(System.Text.Encoding.UTF8.GetBytes("{\"id\":1,\"path\":\"bench/echo\",\"input\":{\"text\":\"" + text + "\"}}"));
        // Both readers must see the same envelope, or the comparison means nothing.
        MessagePackEnvelope.Parse(_message, _path, out var fast);
        MessagePackEnvelope.ParseWithReader(_message, _path, out var slow, JsonEnvelope.DefaultMaxDepth);
        if (fast.Kind != EnvelopeKind.Request || fast.Kind != slow.Kind || fast.PathLength != slow.PathLength
            || !fast.Id.ToArray().AsSpan().SequenceEqual(slow.Id.ToArray()) || !fast.Input.ToArray().AsSpan().SequenceEqual(slow.Input.ToArray()))
            throw new InvalidOperationException("the span reader and MessagePackReader disagree on the benchmark envelope");
    }

    [Benchmark(Baseline = true, Description = "MessagePackReader (MessagePackEnvelope.ParseWithReader)")]
    public int Reader()
    {
        MessagePackEnvelope.ParseWithReader(_message, _path, out var envelope, JsonEnvelope.DefaultMaxDepth);
        return envelope.PathLength + (int)envelope.Input.Length;
    }

    [Benchmark(Description = "span reader (MessagePackEnvelope.Parse, the server's path)")]
    public int Span()
    {
        MessagePackEnvelope.Parse(_message, _path, out var envelope);
        return envelope.PathLength + (int)envelope.Input.Length;
    }

    [Benchmark(Description = "MessagePackSerializer.Deserialize<EnvelopeDto>")]
    public int Serializer()
    {
        var dto = MessagePackSerializer.Deserialize<EnvelopeDto>(_message);
        return dto.Path!.Length + (dto.Input is null ? 0 : 1);
    }

    [Benchmark(Description = "JSON: JsonEnvelope.Parse (Utf8JsonReader), same envelope")]
    public int Json()
    {
        JsonEnvelope.Parse(_json, _path, out var envelope);
        return envelope.PathLength + (int)envelope.Input.Length;
    }
}
