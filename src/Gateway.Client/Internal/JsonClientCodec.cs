using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Gateway.Client.Internal;

/// <summary>
/// <c>gateway.v1.json</c>. Envelopes are written with one reusable <see cref="Utf8JsonWriter"/> (callers hold the
/// client's send lock) and read with <see cref="Utf8JsonReader"/> over the received bytes: no intermediate DOM, no
/// string per message for the members a call's answer has.
/// </summary>
internal sealed class JsonClientCodec(JsonSerializerOptions options) : IClientCodec
{
    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true };
    private Utf8JsonWriter? _writer;

    public string Subprotocol => "gateway.v1.json";
    public WebSocketMessageType MessageType => WebSocketMessageType.Text;

    private Utf8JsonWriter Writer(IBufferWriter<byte> output)
    {
        if (_writer is null) _writer = new Utf8JsonWriter(output, WriterOptions);
        else _writer.Reset(output);
        return _writer;
    }

    private static JsonTypeInfo<T> Info<T>(JsonSerializerOptions options) => (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));

    public void WriteRequest<TInput>(IBufferWriter<byte> output, long id, string path, TInput input, bool hasInput)
    {
        var w = Writer(output);
        w.WriteStartObject();
        if (id > 0) w.WriteNumber("id"u8, id);
        w.WriteString("path"u8, path);
        if (hasInput)
        {
            w.WritePropertyName("input"u8);
            JsonSerializer.Serialize(w, input, Info<TInput>(options));
        }
        w.WriteEndObject();
        w.Flush();
    }

    public void WriteRequestUntyped(IBufferWriter<byte> output, long id, string path, object? input)
    {
        var w = Writer(output);
        w.WriteStartObject();
        if (id > 0) w.WriteNumber("id"u8, id);
        w.WriteString("path"u8, path);
        if (input is not null)
        {
            w.WritePropertyName("input"u8);
            JsonSerializer.Serialize(w, input, options.GetTypeInfo(input.GetType()));
        }
        w.WriteEndObject();
        w.Flush();
    }

    public void WriteCancel(IBufferWriter<byte> output, long id)
    {
        var w = Writer(output);
        w.WriteStartObject();
        w.WriteNumber("id"u8, id);
        w.WriteBoolean("cancel"u8, true);
        w.WriteEndObject();
        w.Flush();
    }

    public void WriteResult(IBufferWriter<byte> output, long id, object? result, Type? resultType)
    {
        var w = Writer(output);
        w.WriteStartObject();
        w.WriteNumber("id"u8, id);
        w.WritePropertyName("result"u8);
        if (result is null) w.WriteNullValue();
        else JsonSerializer.Serialize(w, result, options.GetTypeInfo(resultType ?? result.GetType()));
        w.WriteEndObject();
        w.Flush();
    }

    public void WriteError(IBufferWriter<byte> output, long id, RpcException error)
    {
        var w = Writer(output);
        w.WriteStartObject();
        w.WriteNumber("id"u8, id);
        w.WriteStartObject("error"u8);
        w.WriteString("code"u8, error.Code);
        w.WriteNumber("status"u8, error.Status);
        w.WriteString("message"u8, error.Message);
        w.WriteBoolean("retryable"u8, error.Retryable);
        if (error.RetryAfter is { } after) w.WriteNumber("retryAfterMs"u8, (long)after.TotalMilliseconds);
        if (error.Details is { } details)
        {
            w.WritePropertyName("details"u8);
            details.WriteTo(w);
        }
        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
    }

    public bool TryRead(ReadOnlyMemory<byte> message, out IncomingMessage m, out string? problem)
    {
        m = default;
        problem = null;
        try
        {
            var reader = new Utf8JsonReader(message.Span, new JsonReaderOptions { MaxDepth = options.MaxDepth > 0 ? options.MaxDepth : 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                problem = "not a JSON object";
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long id))
                    {
                        m.HasId = true;
                        m.Id = id;
                    }
                    else reader.Skip(); // a string or null id: never one of ours
                }
                else if (reader.ValueTextEquals("path"u8)) m.Path = ReadString(ref reader);
                else if (reader.ValueTextEquals("event"u8)) m.Event = ReadString(ref reader);
                else if (reader.ValueTextEquals("topic"u8)) m.Topic = ReadString(ref reader);
                else if (reader.ValueTextEquals("cancel"u8)) m.Cancel = ReadBool(ref reader);
                else if (reader.ValueTextEquals("done"u8)) m.Done = ReadBool(ref reader);
                else if (reader.ValueTextEquals("result"u8)) { m.Result = Slice(ref reader, message); m.HasResult = true; }
                else if (reader.ValueTextEquals("error"u8)) { m.Error = Slice(ref reader, message); m.HasError = true; }
                else if (reader.ValueTextEquals("data"u8)) { m.Data = Slice(ref reader, message); m.HasData = true; }
                else if (reader.ValueTextEquals("progress"u8)) { m.Progress = Slice(ref reader, message); m.HasProgress = true; }
                else if (reader.ValueTextEquals("input"u8)) { m.Input = Slice(ref reader, message); m.HasInput = true; }
                else
                {
                    reader.Read();
                    reader.Skip(); // unknown members are ignored (forward compatibility)
                }
            }
            return true;
        }
        catch (JsonException ex)
        {
            problem = "invalid JSON: " + ex.Message;
            return false;
        }
    }

    private static string? ReadString(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
    }

    private static bool ReadBool(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.True;
    }

    private static ReadOnlyMemory<byte> Slice(ref Utf8JsonReader reader, ReadOnlyMemory<byte> message)
    {
        reader.Read();
        int start = (int)reader.TokenStartIndex;
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
        return message.Slice(start, (int)reader.BytesConsumed - start);
    }

    public T? Read<T>(ReadOnlyMemory<byte> value) =>
        value.IsEmpty ? default : JsonSerializer.Deserialize(value.Span, Info<T>(options));

    public object? Read(ReadOnlyMemory<byte> value, Type type) =>
        value.IsEmpty ? null : JsonSerializer.Deserialize(value.Span, options.GetTypeInfo(type));

    public JsonElement? ReadElement(ReadOnlyMemory<byte> value)
    {
        if (value.IsEmpty) return null;
        var reader = new Utf8JsonReader(value.Span);
        return JsonElement.ParseValue(ref reader);
    }

    public RpcException ReadError(ReadOnlyMemory<byte> error)
    {
        string code = RpcErrorCodes.Internal, message = "";
        int status = 0;
        bool? retryable = null;
        TimeSpan? retryAfter = null;
        JsonElement? details = null;
        var reader = new Utf8JsonReader(error.Span);
        if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("code"u8)) code = ReadString(ref reader) ?? code;
                else if (reader.ValueTextEquals("message"u8)) message = ReadString(ref reader) ?? "";
                else if (reader.ValueTextEquals("status"u8)) { reader.Read(); if (reader.TokenType == JsonTokenType.Number) reader.TryGetInt32(out status); }
                else if (reader.ValueTextEquals("retryable"u8)) { reader.Read(); if (reader.TokenType is JsonTokenType.True or JsonTokenType.False) retryable = reader.GetBoolean(); }
                else if (reader.ValueTextEquals("retryAfterMs"u8)) { reader.Read(); if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var ms)) retryAfter = TimeSpan.FromMilliseconds(ms); }
                else if (reader.ValueTextEquals("details"u8)) { reader.Read(); details = JsonElement.ParseValue(ref reader); }
                else { reader.Read(); reader.Skip(); }
            }
        }
        return new RpcException(code, message, status, retryable, retryAfter, details);
    }
}
