using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway;

/// <summary>The wire format an <see cref="EncodedValue"/>'s bytes are in.</summary>
public enum WireFormat : byte
{
    /// <summary>UTF-8 JSON text (<c>gateway.v1.json</c>, and the canonical form between nodes).</summary>
    Json = 0,

    /// <summary>One MessagePack value (<c>gateway.v1.msgpack</c>).</summary>
    MessagePack = 1,
}

/// <summary>
/// Any value, kept as the bytes it arrived in: the type for a procedure that passes values through (an echo, a relay,
/// a store that keeps what clients send) without caring what they hold. As a handler's input it is a copy of the
/// client's bytes (no parsing into objects, no conversion between formats); returned to a connection of the same format
/// it is written back verbatim. It converts only where it crosses formats: to a connection of the other format, into an
/// event (<see cref="ITopics.PublishAsync{T}"/>, <see cref="IConnections"/>), a call to a client, or to another node.
/// </summary>
/// <remarks>
/// <para>Its schema in <c>$describe</c> is "any JSON value" (<c>{}</c>), as for <see cref="JsonElement"/>. Take
/// <c>EncodedValue?</c> to get null for a missing or null input. The default value is JSON <c>null</c>.</para>
/// <para>A MessagePack value holds only what JSON can also hold (the gateway refuses input with other extension types,
/// non-finite floats, map keys that are neither strings nor integers, or strings that are not UTF-8). Converted to JSON,
/// <c>bin</c> becomes a base64 string and a timestamp an ISO 8601 string, as everywhere else in the gateway.</para>
/// <para>System.Text.Json reads and writes it as the JSON value it holds (a converter is attached), so it may also be a
/// member of another type; there it is parsed into its bytes rather than copied whole.</para>
/// </remarks>
[JsonConverter(typeof(EncodedValueJsonConverter))]
public readonly struct EncodedValue
{
    private static readonly byte[] JsonNull = "null"u8.ToArray();

    private readonly ReadOnlyMemory<byte> _encoded;
    private readonly WireFormat _format;

    internal EncodedValue(WireFormat format, ReadOnlyMemory<byte> encoded)
    {
        _format = format;
        _encoded = encoded;
    }

    /// <summary>
    /// Converts MessagePack bytes to JSON. The gateway sets it (this assembly carries no MessagePack library); a
    /// MessagePack value only ever comes from the gateway, so it is set wherever one exists.
    /// </summary>
    internal static Func<ReadOnlyMemory<byte>, byte[]>? MessagePackToJson;

    /// <summary>The format <see cref="Encoded"/> is in.</summary>
    public WireFormat Format => _encoded.IsEmpty ? WireFormat.Json : _format;

    /// <summary>The value's bytes in <see cref="Format"/>: UTF-8 JSON text, or exactly one MessagePack value.</summary>
    public ReadOnlyMemory<byte> Encoded => _encoded.IsEmpty ? JsonNull : _encoded;

    /// <summary>Whether the value is null (JSON <c>null</c>, MessagePack nil, or the default value).</summary>
    public bool IsNull => _encoded.IsEmpty
        || (_format == WireFormat.MessagePack ? _encoded.Length == 1 && _encoded.Span[0] == 0xc0 : _encoded.Span.SequenceEqual("null"u8));

    /// <summary>A value from UTF-8 JSON text, checked to be exactly one well-formed JSON value (whitespace around it is kept).</summary>
    /// <exception cref="JsonException">The text is not one JSON value.</exception>
    public static EncodedValue FromJson(ReadOnlySpan<byte> utf8Json)
    {
        var reader = new Utf8JsonReader(utf8Json);
        if (!reader.Read()) throw new JsonException("no JSON value");
        reader.Skip();
        if (reader.Read()) throw new JsonException("more than one JSON value");
        return new EncodedValue(WireFormat.Json, utf8Json.ToArray());
    }

    /// <summary>A value from JSON text, checked as <see cref="FromJson(ReadOnlySpan{byte})"/> does.</summary>
    /// <exception cref="JsonException">The text is not one JSON value.</exception>
    public static EncodedValue FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return FromJson(System.Text.Encoding.UTF8.GetBytes(json));
    }

    /// <summary>The JSON value of <paramref name="element"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="element"/> is undefined (default).</exception>
    public static EncodedValue FromJsonElement(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Undefined) throw new ArgumentException("the element holds no value", nameof(element));
        return new EncodedValue(WireFormat.Json, System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element).ToArray());
    }

    /// <summary>Serializes <paramref name="value"/> to JSON (with <paramref name="options"/>, or <see cref="JsonSerializerOptions.Web"/>).</summary>
    public static EncodedValue Serialize<T>(T value, JsonSerializerOptions? options = null) =>
        new(WireFormat.Json, JsonSerializer.SerializeToUtf8Bytes(value, options ?? JsonSerializerOptions.Web));

    /// <summary>The value as UTF-8 JSON: <see cref="Encoded"/> itself when it is JSON, else converted (a new array each time).</summary>
    public ReadOnlyMemory<byte> ToJsonUtf8()
    {
        if (Format == WireFormat.Json) return Encoded;
        var convert = MessagePackToJson ?? throw new InvalidOperationException("MessagePack values can be read as JSON only inside the gateway");
        return convert(_encoded);
    }

    /// <summary>The value as a <see cref="JsonElement"/> (parsed on every call; the element does not depend on this value).</summary>
    public JsonElement ToJsonElement() => JsonSerializer.Deserialize<JsonElement>(ToJsonUtf8().Span);

    /// <summary>
    /// Reads the value as <typeparamref name="T"/> with System.Text.Json (<paramref name="options"/>, or
    /// <see cref="JsonSerializerOptions.Web"/>: camelCase names, as the gateway's defaults).
    /// </summary>
    /// <exception cref="JsonException">The value does not fit <typeparamref name="T"/>.</exception>
    public T? Deserialize<T>(JsonSerializerOptions? options = null) =>
        JsonSerializer.Deserialize<T>(ToJsonUtf8().Span, options ?? JsonSerializerOptions.Web);

    /// <summary>The value as JSON text.</summary>
    public override string ToString() => System.Text.Encoding.UTF8.GetString(ToJsonUtf8().Span);
}

/// <summary>
/// System.Text.Json's view of an <see cref="EncodedValue"/>: written as the JSON value it holds (raw when it is JSON),
/// read as the bytes of the next JSON value. Attached to the type; nothing to register.
/// </summary>
public sealed class EncodedValueJsonConverter : JsonConverter<EncodedValue>
{
    /// <inheritdoc />
    public override EncodedValue Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (!reader.HasValueSequence && !reader.ValueIsEscaped)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null:
                    return new EncodedValue(WireFormat.Json, reader.ValueSpan.ToArray());
                case JsonTokenType.String:
                {
                    var bytes = new byte[reader.ValueSpan.Length + 2];
                    bytes[0] = (byte)'"';
                    reader.ValueSpan.CopyTo(bytes.AsSpan(1));
                    bytes[^1] = (byte)'"';
                    return new EncodedValue(WireFormat.Json, bytes);
                }
            }
        }
        // Objects, arrays, escaped strings: the reader does not expose a value's raw span, the document does.
        using var document = JsonDocument.ParseValue(ref reader);
        return EncodedValue.FromJsonElement(document.RootElement);
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, EncodedValue value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.ToJsonUtf8().Span, skipInputValidation: true);
}
