using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using MessagePack;
using MessagePack.Formatters;

namespace Gateway.Shared.MsgPack;

/// <summary><c>byte[]</c> as bin (base64 in JSON); a string is read as base64, as JSON would.</summary>
internal sealed class BinaryFormatter : IMessagePackFormatter<byte[]?>
{
    public static readonly BinaryFormatter Instance = new();

    public void Serialize(ref MessagePackWriter writer, byte[]? value, MessagePackSerializerOptions options)
    {
        if (value is null) writer.WriteNil();
        else writer.Write(value.AsSpan());
    }

    public byte[]? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return null;
        return ReadBytes(ref reader);
    }

    internal static byte[] ReadBytes(ref MessagePackReader reader)
    {
        if (reader.NextMessagePackType == MessagePackType.String)
        {
            string text = reader.ReadString()!;
            try { return Convert.FromBase64String(text); }
            catch (FormatException) { throw new JsonException("expected bin or a base64 string"); }
        }
        if (reader.NextMessagePackType != MessagePackType.Binary) throw new JsonException("expected bin");
        return reader.ReadBytes()!.Value.ToArray();
    }
}

internal sealed class ReadOnlyMemoryBinaryFormatter : IMessagePackFormatter<ReadOnlyMemory<byte>>
{
    public static readonly ReadOnlyMemoryBinaryFormatter Instance = new();
    public void Serialize(ref MessagePackWriter writer, ReadOnlyMemory<byte> value, MessagePackSerializerOptions options) => writer.Write(value.Span);
    public ReadOnlyMemory<byte> Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) =>
        reader.TryReadNil() ? default : BinaryFormatter.ReadBytes(ref reader);
}

internal sealed class MemoryBinaryFormatter : IMessagePackFormatter<Memory<byte>>
{
    public static readonly MemoryBinaryFormatter Instance = new();
    public void Serialize(ref MessagePackWriter writer, Memory<byte> value, MessagePackSerializerOptions options) => writer.Write(value.Span);
    public Memory<byte> Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) =>
        reader.TryReadNil() ? default : BinaryFormatter.ReadBytes(ref reader);
}

/// <summary><c>DateTime</c> as the timestamp extension (-1), in UTC; an ISO 8601 string is read too (what JSON carries).</summary>
internal sealed class TimestampFormatter : IMessagePackFormatter<DateTime>
{
    public static readonly TimestampFormatter Instance = new();

    // The extension has no zone: an Unspecified time is taken as UTC rather than shifted by this machine's offset.
    public void Serialize(ref MessagePackWriter writer, DateTime value, MessagePackSerializerOptions options) =>
        writer.Write(value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : DateTime.SpecifyKind(value, DateTimeKind.Utc));

    public DateTime Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.NextMessagePackType == MessagePackType.String)
        {
            string text = reader.ReadString()!;
            return DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind).UtcDateTime;
        }
        if (reader.NextMessagePackType != MessagePackType.Extension) throw new JsonException("expected a timestamp");
        return reader.ReadDateTime();
    }
}

/// <summary><c>DateTimeOffset</c> as the timestamp extension (-1): the instant, in UTC (the extension has no offset).</summary>
internal sealed class TimestampOffsetFormatter : IMessagePackFormatter<DateTimeOffset>
{
    public static readonly TimestampOffsetFormatter Instance = new();
    public void Serialize(ref MessagePackWriter writer, DateTimeOffset value, MessagePackSerializerOptions options) => writer.Write(value.UtcDateTime);
    public DateTimeOffset Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) =>
        new(TimestampFormatter.Instance.Deserialize(ref reader, options), TimeSpan.Zero);
}

/// <summary>
/// Numbers in their smallest encoding, as JSON writes them: an integral double is an int, one that float32 holds exactly
/// is a float32. Any numeric encoding is read.
/// </summary>
internal sealed class CompactDoubleFormatter : IMessagePackFormatter<double>
{
    public static readonly CompactDoubleFormatter Instance = new();
    public void Serialize(ref MessagePackWriter writer, double value, MessagePackSerializerOptions options) => Write(ref writer, value);

    public static void Write(ref MessagePackWriter writer, double value)
    {
        if (!double.IsFinite(value)) throw new JsonException("NaN and infinity are not numbers in the protocol");
        if (value == Math.Floor(value) && value >= -9.2e18 && value <= 9.2e18 && !(value == 0 && double.IsNegative(value))) writer.Write((long)value);
        else if ((double)(float)value == value) writer.Write((float)value);
        else writer.Write(value);
    }

    public double Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) => ReadNumber(ref reader);

    internal static double ReadNumber(ref MessagePackReader reader)
    {
        var type = reader.NextMessagePackType;
        if (type == MessagePackType.Integer) return reader.NextCode == MessagePackCode.UInt64 ? reader.ReadUInt64() : reader.ReadInt64();
        if (type == MessagePackType.Float) return reader.ReadDouble();
        throw new JsonException("expected a number");
    }
}

internal sealed class CompactSingleFormatter : IMessagePackFormatter<float>
{
    public static readonly CompactSingleFormatter Instance = new();
    public void Serialize(ref MessagePackWriter writer, float value, MessagePackSerializerOptions options) => CompactDoubleFormatter.Write(ref writer, value);
    public float Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) => (float)CompactDoubleFormatter.ReadNumber(ref reader);
}

/// <summary><c>decimal</c> as a number (JSON writes it as one; the library's default would be a string).</summary>
internal sealed class DecimalAsNumberFormatter : IMessagePackFormatter<decimal>
{
    public static readonly DecimalAsNumberFormatter Instance = new();

    public void Serialize(ref MessagePackWriter writer, decimal value, MessagePackSerializerOptions options)
    {
        if (decimal.IsInteger(value) && value >= long.MinValue && value <= long.MaxValue) writer.Write((long)value);
        else CompactDoubleFormatter.Write(ref writer, (double)value);
    }

    public decimal Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.NextMessagePackType == MessagePackType.Integer)
            return reader.NextCode == MessagePackCode.UInt64 ? reader.ReadUInt64() : reader.ReadInt64();
        return (decimal)CompactDoubleFormatter.ReadNumber(ref reader);
    }
}

internal sealed class NullableFormatter<T> : IMessagePackFormatter<T?> where T : struct
{
    public void Serialize(ref MessagePackWriter writer, T? value, MessagePackSerializerOptions options)
    {
        if (value is { } v) options.Resolver.GetFormatterWithVerify<T>().Serialize(ref writer, v, options);
        else writer.WriteNil();
    }

    public T? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) =>
        reader.TryReadNil() ? null : options.Resolver.GetFormatterWithVerify<T>().Deserialize(ref reader, options);
}

/// <summary>An enum System.Text.Json writes as its number.</summary>
internal sealed class NumericEnumFormatter<T> : IMessagePackFormatter<T> where T : struct, Enum
{
    private static readonly bool Unsigned = Type.GetTypeCode(Enum.GetUnderlyingType(typeof(T))) is TypeCode.Byte or TypeCode.UInt16 or TypeCode.UInt32 or TypeCode.UInt64;

    public void Serialize(ref MessagePackWriter writer, T value, MessagePackSerializerOptions options)
    {
        switch (Unsafe.SizeOf<T>())
        {
            case 1: if (Unsigned) writer.Write(Unsafe.As<T, byte>(ref value)); else writer.Write(Unsafe.As<T, sbyte>(ref value)); break;
            case 2: if (Unsigned) writer.Write(Unsafe.As<T, ushort>(ref value)); else writer.Write(Unsafe.As<T, short>(ref value)); break;
            case 4: if (Unsigned) writer.Write(Unsafe.As<T, uint>(ref value)); else writer.Write(Unsafe.As<T, int>(ref value)); break;
            default: if (Unsigned) writer.Write(Unsafe.As<T, ulong>(ref value)); else writer.Write(Unsafe.As<T, long>(ref value)); break;
        }
    }

    public T Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.NextMessagePackType != MessagePackType.Integer) throw new JsonException("expected an integer");
        long raw = reader.NextCode == MessagePackCode.UInt64 ? (long)reader.ReadUInt64() : reader.ReadInt64();
        T value = default;
        switch (Unsafe.SizeOf<T>())
        {
            case 1: Unsafe.As<T, byte>(ref value) = Unsigned ? checked((byte)raw) : (byte)checked((sbyte)raw); break;
            case 2: Unsafe.As<T, ushort>(ref value) = Unsigned ? checked((ushort)raw) : (ushort)checked((short)raw); break;
            case 4: Unsafe.As<T, uint>(ref value) = Unsigned ? checked((uint)raw) : (uint)checked((int)raw); break;
            default: Unsafe.As<T, long>(ref value) = raw; break;
        }
        return value;
    }
}

/// <summary>Any JSON value (<see cref="JsonElement"/>): transcoded from its raw JSON on the way out, to JSON on the way in.</summary>
internal sealed class JsonElementFormatter : IMessagePackFormatter<JsonElement>
{
    public static readonly JsonElementFormatter Instance = new();

    public void Serialize(ref MessagePackWriter writer, JsonElement value, MessagePackSerializerOptions options)
    {
        if (value.ValueKind == JsonValueKind.Undefined) { writer.WriteNil(); return; }
        JsonTranscoder.JsonToMessagePack(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(value), ref writer);
    }

    public JsonElement Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        // The JSON text is scratch (the element keeps its own copy): this thread's buffer, and one parse rather than parse + clone.
        var buffer = JsonTranscoder.RentScratch();
        try
        {
            JsonTranscoder.MessagePackToJson(ref reader, buffer, options.Security.MaximumObjectGraphDepth);
            var json = new Utf8JsonReader(buffer.WrittenSpan);
            return JsonElement.ParseValue(ref json);
        }
        finally
        {
            JsonTranscoder.ReturnScratch(buffer);
        }
    }
}

/// <summary><c>object</c>: written by its runtime type (as System.Text.Json does), read as a <see cref="JsonElement"/>.</summary>
internal sealed class DynamicObjectFormatter(JsonContractResolver resolver) : IMessagePackFormatter<object?>
{
    public void Serialize(ref MessagePackWriter writer, object? value, MessagePackSerializerOptions options)
    {
        if (value is null) writer.WriteNil();
        else if (value.GetType() == typeof(object)) writer.WriteMapHeader(0);
        else MessagePackSerializer.Serialize(value.GetType(), ref writer, value, options);
    }

    public object? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) =>
        reader.TryReadNil() ? null : JsonElementFormatter.Instance.Deserialize(ref reader, options);

    public JsonContractResolver Resolver => resolver;
}

/// <summary>
/// A type System.Text.Json has its own converter for (custom converters, polymorphism, string enums, TimeSpan, Uri…):
/// serialized by System.Text.Json and transcoded, so its MessagePack shape is its JSON shape.
/// </summary>
internal sealed class JsonFallbackFormatter<T>(System.Text.Json.Serialization.Metadata.JsonTypeInfo info) : IMessagePackFormatter<T>
{
    private readonly System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> _info = (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)info;

    public void Serialize(ref MessagePackWriter writer, T value, MessagePackSerializerOptions options)
    {
        if (value is null) { writer.WriteNil(); return; }
        JsonTranscoder.JsonToMessagePack(JsonSerializer.SerializeToUtf8Bytes(value, _info), ref writer);
    }

    public T Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        JsonTranscoder.MessagePackToJson(ref reader, buffer, options.Security.MaximumObjectGraphDepth);
        return JsonSerializer.Deserialize(buffer.WrittenSpan, _info)!;
    }
}
