using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using BenchmarkDotNet.Attributes;
using Gateway.Protocol.Rpc;
using Gateway.Server.Options;
using Gateway.Shared.MsgPack;
using MessagePack;

namespace Gateway.Benchmarks;

/// <summary>
/// The format's own CPU cost with no socket in the way: parse the echo envelope (64-byte input), read the input into
/// the handler's type, write the reply, for JSON (JsonEnvelope, System.Text.Json, Utf8JsonWriter) and MessagePack
/// (MessagePackEnvelope, MessagePackSerializer with the JSON-contract resolver, MessagePackWriter). The loopback
/// round trips (MessagePackRoundTripBenchmarks) are dominated by socket and thread hops on a shared machine.
/// </summary>
[MemoryDiagnoser]
public class WireFormatBenchmarks
{
    private readonly char[] _path = new char[JsonEnvelope.MaxPathLength];
    private readonly ArrayBufferWriter<byte> _output = new(1024);
    private ReadOnlySequence<byte> _json, _msgpack;
    private JsonTypeInfo<BenchMsg> _info = null!;
    private MessagePackSerializerOptions _pack = null!;
    private Utf8JsonWriter _writer = null!;

    [GlobalSetup]
    public void Setup()
    {
        var json = new JsonOptions().ToSerializerOptions();
        json.MakeReadOnly(populateMissingResolver: true);
        _info = (JsonTypeInfo<BenchMsg>)json.GetTypeInfo(typeof(BenchMsg));
        _pack = new JsonContractResolver(json).Options(64);
        string text = new('x', 53);
        _json = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("{\"id\":1,\"path\":\"bench/echo\",\"input\":{\"text\":\"" + text + "\"}}"));
        _msgpack = new ReadOnlySequence<byte>(MessagePackSerializer.Serialize(new Dictionary<string, object> { ["id"] = 1, ["path"] = "bench/echo", ["input"] = new Dictionary<string, object> { ["text"] = text } }));
        _writer = new Utf8JsonWriter(_output);
    }

    [Benchmark(Baseline = true, Description = "JSON: envelope + input + reply")]
    public int Json()
    {
        JsonEnvelope.Parse(_json, _path, out var envelope);
        var reader = new Utf8JsonReader(envelope.Input);
        var input = JsonSerializer.Deserialize(ref reader, _info)!;
        _output.ResetWrittenCount();
        _writer.Reset(_output);
        _writer.WriteStartObject();
        _writer.WritePropertyName("id"u8);
        _writer.WriteRawValue(envelope.Id.FirstSpan, skipInputValidation: true);
        _writer.WritePropertyName("result"u8);
        JsonSerializer.Serialize(_writer, input, _info);
        _writer.WriteEndObject();
        _writer.Flush();
        return _output.WrittenCount;
    }

    [Benchmark(Description = "MessagePack: envelope + input + reply")]
    public int MessagePack()
    {
        MessagePackEnvelope.Parse(_msgpack, _path, out var envelope);
        var input = MessagePackSerializer.Deserialize<BenchMsg>(envelope.Input, _pack);
        _output.ResetWrittenCount();
        var writer = new MessagePackWriter(_output);
        writer.WriteMapHeader(2);
        writer.WriteString("id"u8);
        writer.WriteRaw(envelope.Id);
        writer.WriteString("result"u8);
        MessagePackSerializer.Serialize(ref writer, input, _pack);
        writer.Flush();
        return _output.WrittenCount;
    }
}
