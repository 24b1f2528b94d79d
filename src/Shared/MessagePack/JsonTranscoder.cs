using System.Buffers;
using System.Text;
using System.Text.Json;
using MessagePack;

namespace Gateway.Shared.MsgPack;

/// <summary>
/// JSON ⇄ MessagePack for values whose type is not known here: events and server-call inputs (canonical JSON between
/// nodes, converted at a MessagePack connection's edge), a client's answer to a server call (to canonical JSON), and the
/// types System.Text.Json converts itself. bin becomes base64 and a timestamp an ISO 8601 string on the way to JSON; the
/// way back cannot tell them from strings, so they stay strings.
/// </summary>
internal static class JsonTranscoder
{
    /// <summary>Nesting a transcoded JSON document may have (our own or another node's output: System.Text.Json writes at most 64).</summary>
    private const int TrustedMaxDepth = 256;

    // ---- JSON → MessagePack ----------------------------------------------------------------------------

    /// <summary>Writes one JSON value (valid JSON: produced by System.Text.Json) as MessagePack.</summary>
    public static void JsonToMessagePack(ReadOnlySpan<byte> json, ref MessagePackWriter writer)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = TrustedMaxDepth });
        if (!reader.Read()) throw new JsonException("empty JSON");
        WriteJsonValue(ref reader, ref writer);
    }

    public static byte[] JsonToMessagePack(ReadOnlySpan<byte> json)
    {
        var buffer = new ArrayBufferWriter<byte>(json.Length + 16);
        var writer = new MessagePackWriter(buffer);
        JsonToMessagePack(json, ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    // Maps and arrays carry their length up front: a copy of the reader counts the children first (no allocation;
    // each level is walked once more per level above it, fine for the small documents that come this way).
    private static void WriteJsonValue(ref Utf8JsonReader reader, ref MessagePackWriter writer)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
            {
                writer.WriteMapHeader(CountChildren(reader));
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    WriteJsonString(ref reader, ref writer);
                    reader.Read();
                    WriteJsonValue(ref reader, ref writer);
                }
                break;
            }
            case JsonTokenType.StartArray:
            {
                writer.WriteArrayHeader(CountChildren(reader));
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) WriteJsonValue(ref reader, ref writer);
                break;
            }
            case JsonTokenType.String: WriteJsonString(ref reader, ref writer); break;
            case JsonTokenType.Number:
                if (reader.TryGetInt64(out long l)) writer.Write(l);
                else if (reader.TryGetUInt64(out ulong u)) writer.Write(u);
                else CompactDoubleFormatter.Write(ref writer, reader.GetDouble());
                break;
            case JsonTokenType.True: writer.Write(true); break;
            case JsonTokenType.False: writer.Write(false); break;
            case JsonTokenType.Null: writer.WriteNil(); break;
            default: throw new JsonException("unexpected JSON token " + reader.TokenType);
        }
    }

    private static int CountChildren(Utf8JsonReader probe)
    {
        int count = 0;
        bool isObject = probe.TokenType == JsonTokenType.StartObject;
        while (probe.Read())
        {
            if (probe.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray) return count;
            if (isObject) probe.Read(); // the property name, then its value
            probe.Skip();
            count++;
        }
        return count;
    }

    private static void WriteJsonString(ref Utf8JsonReader reader, ref MessagePackWriter writer)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            writer.WriteString(reader.ValueSpan);
            return;
        }
        int max = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        // Escaped strings are rare in our own output: a pooled buffer (a stack one cannot be handed to the writer).
        byte[] rented = ArrayPool<byte>.Shared.Rent(max);
        try
        {
            int written = reader.CopyString(rented);
            writer.WriteString(rented.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // ---- MessagePack → JSON ----------------------------------------------------------------------------

    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    // One writer and one scratch buffer per thread: transcoding a small value then allocates only its result.
    // Nothing here calls out while they are in use, so a thread never needs two at once.
    [ThreadStatic] private static Utf8JsonWriter? t_writer;
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_scratch;
    private const int MaxKeptScratch = 64 * 1024;

    /// <summary>This thread's scratch buffer (empty); give it back with <see cref="ReturnScratch"/>.</summary>
    internal static ArrayBufferWriter<byte> RentScratch()
    {
        var buffer = t_scratch ?? new ArrayBufferWriter<byte>(256);
        t_scratch = null;
        return buffer;
    }

    internal static void ReturnScratch(ArrayBufferWriter<byte> buffer)
    {
        buffer.ResetWrittenCount();
        if (buffer.Capacity <= MaxKeptScratch) t_scratch = buffer;
    }

    /// <summary>Writes one MessagePack value as JSON; throws <see cref="JsonException"/> for what JSON cannot hold.</summary>
    public static void MessagePackToJson(ref MessagePackReader reader, IBufferWriter<byte> output, int maxDepth)
    {
        var writer = t_writer;
        if (writer is null) t_writer = writer = new Utf8JsonWriter(output, WriterOptions);
        else writer.Reset(output);
        t_writer = null;
        try
        {
            WriteMessagePackValue(ref reader, writer, 1, maxDepth);
            writer.Flush();
        }
        finally
        {
            // Reset drops what a failed value left half-written; the writer is kept for this thread's next value.
            writer.Reset();
            t_writer = writer;
        }
    }

    /// <summary>A whole MessagePack value (a slice of a message) as canonical JSON bytes.</summary>
    public static byte[] MessagePackToJson(in ReadOnlySequence<byte> value, int maxDepth)
    {
        var buffer = RentScratch();
        try
        {
            var reader = new MessagePackReader(value);
            MessagePackToJson(ref reader, buffer, maxDepth);
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            ReturnScratch(buffer);
        }
    }

    private static void WriteMessagePackValue(ref MessagePackReader reader, Utf8JsonWriter writer, int depth, int maxDepth)
    {
        switch (reader.NextMessagePackType)
        {
            case MessagePackType.Nil: reader.ReadNil(); writer.WriteNullValue(); break;
            case MessagePackType.Boolean: writer.WriteBooleanValue(reader.ReadBoolean()); break;
            case MessagePackType.Integer:
                if (reader.NextCode == MessagePackCode.UInt64) writer.WriteNumberValue(reader.ReadUInt64());
                else writer.WriteNumberValue(reader.ReadInt64());
                break;
            case MessagePackType.Float:
            {
                double d = reader.ReadDouble();
                if (!double.IsFinite(d)) throw new JsonException("NaN and infinity are not numbers in the protocol");
                writer.WriteNumberValue(d);
                break;
            }
            case MessagePackType.String: writer.WriteStringValue(ReadUtf8(ref reader, out var rented)); Return(rented); break;
            case MessagePackType.Binary:
            {
                var bytes = reader.ReadBytes()!.Value;
                if (bytes.IsSingleSegment) writer.WriteBase64StringValue(bytes.FirstSpan);
                else writer.WriteBase64StringValue(bytes.ToArray());
                break;
            }
            case MessagePackType.Array:
            {
                int count = reader.ReadArrayHeader();
                if (depth > maxDepth) throw TooDeep(maxDepth);
                writer.WriteStartArray();
                for (int i = 0; i < count; i++) WriteMessagePackValue(ref reader, writer, depth + 1, maxDepth);
                writer.WriteEndArray();
                break;
            }
            case MessagePackType.Map:
            {
                int count = reader.ReadMapHeader();
                if (depth > maxDepth) throw TooDeep(maxDepth);
                writer.WriteStartObject();
                for (int i = 0; i < count; i++)
                {
                    switch (reader.NextMessagePackType)
                    {
                        case MessagePackType.String: writer.WritePropertyName(ReadUtf8(ref reader, out var keyBuffer)); Return(keyBuffer); break;
                        case MessagePackType.Integer: writer.WritePropertyName(reader.ReadInt64().ToString(System.Globalization.CultureInfo.InvariantCulture)); break;
                        default: throw new JsonException("map keys must be strings or integers");
                    }
                    WriteMessagePackValue(ref reader, writer, depth + 1, maxDepth);
                }
                writer.WriteEndObject();
                break;
            }
            case MessagePackType.Extension:
            {
                var header = reader.ReadExtensionFormatHeader();
                if (header.TypeCode != ReservedMessagePackExtensionTypeCode.DateTime) throw new JsonException($"extension type {header.TypeCode} is not supported (only the timestamp, -1)");
                writer.WriteStringValue(reader.ReadDateTime(header));
                break;
            }
            default: throw new JsonException("unknown MessagePack type code " + reader.NextCode);
        }
    }

    private static JsonException TooDeep(int maxDepth) => new($"nested deeper than the maximum allowed depth of {maxDepth}");

    /// <summary>A str's bytes, checked to be UTF-8 (the protocol's strings are).</summary>
    internal static ReadOnlySpan<byte> ReadUtf8(ref MessagePackReader reader, out byte[]? rented)
    {
        rented = null;
        ReadOnlySpan<byte> span;
        if (!reader.TryReadStringSpan(out span))
        {
            var sequence = reader.ReadStringSequence()!.Value;
            rented = ArrayPool<byte>.Shared.Rent((int)sequence.Length);
            sequence.CopyTo(rented);
            span = rented.AsSpan(0, (int)sequence.Length);
        }
        if (!System.Text.Unicode.Utf8.IsValid(span)) throw new JsonException("a string is not valid UTF-8");
        return span;
    }

    private static void Return(byte[]? rented)
    {
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
    }
}
