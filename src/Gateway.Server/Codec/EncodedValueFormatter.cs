using System.Buffers;
using System.Text.Json;
using Gateway.Protocol.Rpc;
using Gateway.Shared.MsgPack;
using MessagePack;
using MessagePack.Formatters;

namespace Gateway.Server.Codec;

/// <summary>
/// <see cref="EncodedValue"/> over MessagePack: read as a copy of the value's own bytes (walked once to check that JSON
/// could hold it, so it can cross to a JSON connection or another node later), written verbatim when it is MessagePack
/// and transcoded when it is JSON. Also lends <see cref="EncodedValue"/> the MessagePack-to-JSON conversion.
/// </summary>
internal sealed class EncodedValueFormatter : IMessagePackFormatter<EncodedValue>
{
    public static readonly EncodedValueFormatter Instance = new();

    /// <summary>Nesting of a value that was checked against Gateway:Json:MaxDepth when it was read.</summary>
    private const int TrustedMaxDepth = 1000;

    static EncodedValueFormatter() => EncodedValue.MessagePackToJson = static bytes => JsonTranscoder.MessagePackToJson(new ReadOnlySequence<byte>(bytes), TrustedMaxDepth);

    private EncodedValueFormatter() { }

    public void Serialize(ref MessagePackWriter writer, EncodedValue value, MessagePackSerializerOptions options) => Write(ref writer, value);

    public static void Write(ref MessagePackWriter writer, EncodedValue value)
    {
        if (value.Format == WireFormat.MessagePack) writer.WriteRaw(value.Encoded.Span);
        else JsonTranscoder.JsonToMessagePack(value.Encoded.Span, ref writer);
    }

    public EncodedValue Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) =>
        Read(ref reader, options.Security.MaximumObjectGraphDepth);

    /// <summary>
    /// The first value of <paramref name="value"/> (a request's input) as <see cref="Read(ref MessagePackReader, int)"/> reads
    /// it; a one-segment value that passes the span check (<see cref="MsgPackSpan.TrySkipJsonCompatible"/>) is copied
    /// without the library's reader, anything else (a timestamp, a fault to name) goes through it.
    /// </summary>
    public static EncodedValue Read(in ReadOnlySequence<byte> value, int maxDepth)
    {
        if (value.IsSingleSegment)
        {
            var span = value.FirstSpan;
            int end = 0;
            if (MsgPackSpan.TrySkipJsonCompatible(span, ref end, maxDepth)) return new EncodedValue(WireFormat.MessagePack, span[..end].ToArray());
        }
        var reader = new MessagePackReader(value);
        return Read(ref reader, maxDepth);
    }

    /// <summary>The next value's bytes; throws <see cref="JsonException"/> (as the transcoder does) for what JSON cannot hold.</summary>
    public static EncodedValue Read(ref MessagePackReader reader, int maxDepth)
    {
        var start = reader.Position;
        Check(ref reader, 1, maxDepth);
        return new EncodedValue(WireFormat.MessagePack, reader.Sequence.Slice(start, reader.Position).ToArray());
    }

    // The same rules JsonTranscoder applies on the way to JSON, without writing anything.
    private static void Check(ref MessagePackReader reader, int depth, int maxDepth)
    {
        switch (reader.NextMessagePackType)
        {
            case MessagePackType.Nil:
            case MessagePackType.Boolean:
            case MessagePackType.Integer:
            case MessagePackType.Binary:
                reader.Skip();
                break;
            case MessagePackType.Float:
                if (!double.IsFinite(reader.ReadDouble())) throw new JsonException("NaN and infinity are not numbers in the protocol");
                break;
            case MessagePackType.String:
                CheckString(ref reader);
                break;
            case MessagePackType.Array:
            {
                int count = reader.ReadArrayHeader();
                if (depth > maxDepth) throw TooDeep(maxDepth);
                for (int i = 0; i < count; i++) Check(ref reader, depth + 1, maxDepth);
                break;
            }
            case MessagePackType.Map:
            {
                int count = reader.ReadMapHeader();
                if (depth > maxDepth) throw TooDeep(maxDepth);
                for (int i = 0; i < count; i++)
                {
                    switch (reader.NextMessagePackType)
                    {
                        case MessagePackType.String: CheckString(ref reader); break;
                        case MessagePackType.Integer: reader.Skip(); break;
                        default: throw new JsonException("map keys must be strings or integers");
                    }
                    Check(ref reader, depth + 1, maxDepth);
                }
                break;
            }
            case MessagePackType.Extension:
            {
                var header = reader.ReadExtensionFormatHeader();
                if (header.TypeCode != ReservedMessagePackExtensionTypeCode.DateTime) throw new JsonException($"extension type {header.TypeCode} is not supported (only the timestamp, -1)");
                reader.ReadDateTime(header);
                break;
            }
            default: throw new JsonException("unknown MessagePack type code " + reader.NextCode);
        }
    }

    private static void CheckString(ref MessagePackReader reader)
    {
        JsonTranscoder.ReadUtf8(ref reader, out var rented);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
    }

    private static JsonException TooDeep(int maxDepth) => new($"nested deeper than the maximum allowed depth of {maxDepth}");
}
