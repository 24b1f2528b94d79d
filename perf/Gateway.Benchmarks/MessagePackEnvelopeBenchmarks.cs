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
/// Why gateway.v1.msgpack reads its envelope by hand over MessagePackReader (MessagePackEnvelope) rather than with
/// MessagePackSerializer into a [MessagePackObject] type: the same 64-byte echo envelope both ways.
/// </summary>
[MemoryDiagnoser]
public class MessagePackEnvelopeBenchmarks
{
    private readonly char[] _path = new char[JsonEnvelope.MaxPathLength];
    private ReadOnlySequence<byte> _message;

    [GlobalSetup]
    public void Setup() => _message = new ReadOnlySequence<byte>(MessagePackSerializer.Serialize(new Dictionary<string, object>
    {
        ["id"] = 1, ["path"] = "bench/echo", ["input"] = new Dictionary<string, object> { ["text"] = new string('x', 53) },
    }));

    [Benchmark(Baseline = true, Description = "MessagePackEnvelope.Parse (MessagePackReader, slices)")]
    public int HandWritten()
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
}
