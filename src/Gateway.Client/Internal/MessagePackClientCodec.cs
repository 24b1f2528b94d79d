using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Gateway.Shared.MsgPack;
using MessagePack;

namespace Gateway.Client.Internal;

/// <summary>
/// <c>gateway.v1.msgpack</c>: one binary frame = one MessagePack map with the JSON envelope's keys. The envelope is
/// written and read with MessagePackWriter/MessagePackReader directly (no intermediate object); values go through the
/// gateway's shared mapping (<see cref="JsonContractResolver"/>: System.Text.Json contracts as formatters), so the types
/// that work with the JSON codec work here unchanged, with byte[] as bin and DateTime as the timestamp extension.
/// </summary>
internal sealed class MessagePackClientCodec : IClientCodec
{
    private readonly JsonContractResolver _resolver;
    private readonly MessagePackSerializerOptions _options;

    public MessagePackClientCodec(JsonSerializerOptions json)
    {
        _resolver = new JsonContractResolver(json);
        // Untrusted depth limit as the JSON reader's: what the server sends is bounded the same way in both formats.
        _options = _resolver.Options(json.MaxDepth > 0 ? json.MaxDepth : 64);
    }

    public string Subprotocol => "gateway.v1.msgpack";
    public WebSocketMessageType MessageType => WebSocketMessageType.Binary;

    public void WriteRequest<TInput>(IBufferWriter<byte> output, long id, string path, TInput input, bool hasInput)
    {
        var w = new MessagePackWriter(output);
        w.WriteMapHeader((id > 0 ? 1 : 0) + 1 + (hasInput ? 1 : 0));
        if (id > 0) { w.WriteString("id"u8); w.Write(id); }
        w.WriteString("path"u8);
        w.Write(path);
        if (hasInput)
        {
            w.WriteString("input"u8);
            try { _resolver.GetFormatter<TInput>()!.Serialize(ref w, input, _options); }
            catch (Exception ex) when (IsMappingFailure(ex)) { throw AsJsonFailure(ex); }
        }
        w.Flush();
    }

    public void WriteRequestUntyped(IBufferWriter<byte> output, long id, string path, object? input)
    {
        var w = new MessagePackWriter(output);
        w.WriteMapHeader((id > 0 ? 1 : 0) + 1 + (input is not null ? 1 : 0));
        if (id > 0) { w.WriteString("id"u8); w.Write(id); }
        w.WriteString("path"u8);
        w.Write(path);
        if (input is not null)
        {
            w.WriteString("input"u8);
            WriteValue(ref w, input, input.GetType());
        }
        w.Flush();
    }

    public void WriteCancel(IBufferWriter<byte> output, long id)
    {
        var w = new MessagePackWriter(output);
        w.WriteMapHeader(2);
        w.WriteString("id"u8);
        w.Write(id);
        w.WriteString("cancel"u8);
        w.Write(true);
        w.Flush();
    }

    public void WriteResult(IBufferWriter<byte> output, long id, object? result, Type? resultType)
    {
        var w = new MessagePackWriter(output);
        w.WriteMapHeader(2);
        w.WriteString("id"u8);
        w.Write(id);
        w.WriteString("result"u8);
        if (result is null) w.WriteNil();
        else WriteValue(ref w, result, resultType ?? result.GetType());
        w.Flush();
    }

    public void WriteError(IBufferWriter<byte> output, long id, RpcException error)
    {
        var w = new MessagePackWriter(output);
        w.WriteMapHeader(2);
        w.WriteString("id"u8);
        w.Write(id);
        w.WriteString("error"u8);
        w.WriteMapHeader(4 + (error.RetryAfter is not null ? 1 : 0) + (error.Details is not null ? 1 : 0));
        w.WriteString("code"u8);
        w.Write(error.Code);
        w.WriteString("status"u8);
        w.Write(error.Status);
        w.WriteString("message"u8);
        w.Write(error.Message);
        w.WriteString("retryable"u8);
        w.Write(error.Retryable);
        if (error.RetryAfter is { } after)
        {
            w.WriteString("retryAfterMs"u8);
            w.Write((long)after.TotalMilliseconds);
        }
        if (error.Details is { } details)
        {
            w.WriteString("details"u8);
            JsonElementFormatter.Instance.Serialize(ref w, details, _options);
        }
        w.Flush();
    }

    // A value whose type is only known at run time: the non-generic serializer looks its formatter up in a per-type cache.
    private void WriteValue(ref MessagePackWriter w, object value, Type type)
    {
        try { MessagePackSerializer.Serialize(type, ref w, value, _options); }
        catch (Exception ex) when (IsMappingFailure(ex)) { throw AsJsonFailure(ex); }
    }

    // The client's callers handle a value that does not fit its type as the JSON codec reports it (JsonException,
    // NotSupportedException, InvalidOperationException): MessagePack's own failures are translated so a bad value is the
    // same clear per-call error in both formats, never an exception that tears down the receive loop.
    // ArgumentOutOfRangeException: the library reads a str32 length of 2^31 or more as negative and slices with it.
    private static bool IsMappingFailure(Exception ex) =>
        ex is MessagePackSerializationException or EndOfStreamException or OverflowException or FormatException or ArgumentOutOfRangeException;

    private static Exception AsJsonFailure(Exception ex)
    {
        // MessagePackSerializer wraps what a formatter threw; System.Text.Json's own errors (from the shared mapping's
        // fallback) keep their type.
        for (var inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is JsonException or NotSupportedException or InvalidOperationException) return inner;
        }
        return new JsonException(ex.Message, ex);
    }

    public bool TryRead(ReadOnlyMemory<byte> message, out IncomingMessage m, out string? problem)
    {
        m = default;
        problem = null;
        try
        {
            var reader = new MessagePackReader(message);
            if (reader.NextMessagePackType != MessagePackType.Map)
            {
                problem = "not a MessagePack map";
                return false;
            }
            int count = reader.ReadMapHeader();
            for (int i = 0; i < count; i++)
            {
                if (reader.NextMessagePackType != MessagePackType.String)
                {
                    reader.Skip(); // a non-string key is no envelope member: skip it and its value
                    reader.Skip();
                    continue;
                }
                var key = KeySpan(ref reader);
                if (key.SequenceEqual("id"u8))
                {
                    if (reader.NextMessagePackType == MessagePackType.Integer)
                    {
                        m.HasId = true;
                        m.Id = reader.ReadInt64();
                    }
                    else reader.Skip(); // a string or nil id: never one of ours
                }
                else if (key.SequenceEqual("path"u8)) m.Path = ReadString(ref reader);
                else if (key.SequenceEqual("event"u8)) m.Event = ReadString(ref reader);
                else if (key.SequenceEqual("topic"u8)) m.Topic = ReadString(ref reader);
                else if (key.SequenceEqual("cancel"u8)) m.Cancel = ReadBool(ref reader);
                else if (key.SequenceEqual("done"u8)) m.Done = ReadBool(ref reader);
                else if (key.SequenceEqual("result"u8)) { m.Result = Slice(ref reader, message); m.HasResult = true; }
                else if (key.SequenceEqual("error"u8)) { m.Error = Slice(ref reader, message); m.HasError = true; }
                else if (key.SequenceEqual("data"u8)) { m.Data = Slice(ref reader, message); m.HasData = true; }
                else if (key.SequenceEqual("progress"u8)) { m.Progress = Slice(ref reader, message); m.HasProgress = true; }
                else if (key.SequenceEqual("input"u8)) { m.Input = Slice(ref reader, message); m.HasInput = true; }
                else reader.Skip(); // unknown members are ignored (forward compatibility)
            }
            return true;
        }
        catch (Exception ex) when (IsMappingFailure(ex))
        {
            problem = "invalid MessagePack: " + ex.Message;
            return false;
        }
    }

    // One received message is one contiguous array, so a key is always a span of it (no copy).
    private static ReadOnlySpan<byte> KeySpan(ref MessagePackReader reader)
    {
        if (reader.TryReadStringSpan(out var span)) return span;
        var sequence = reader.ReadStringSequence();
        return sequence is { } s ? s.ToArray() : default;
    }

    private static string? ReadString(ref MessagePackReader reader)
    {
        if (reader.NextMessagePackType == MessagePackType.String) return reader.ReadString();
        reader.Skip();
        return null;
    }

    private static bool ReadBool(ref MessagePackReader reader)
    {
        if (reader.NextMessagePackType == MessagePackType.Boolean) return reader.ReadBoolean();
        reader.Skip();
        return false;
    }

    private static ReadOnlyMemory<byte> Slice(ref MessagePackReader reader, ReadOnlyMemory<byte> message)
    {
        int start = (int)reader.Consumed;
        reader.Skip();
        return message.Slice(start, (int)reader.Consumed - start);
    }

    public T? Read<T>(ReadOnlyMemory<byte> value)
    {
        if (value.IsEmpty) return default;
        var reader = new MessagePackReader(value);
        try { return _resolver.GetFormatter<T>()!.Deserialize(ref reader, _options); }
        catch (Exception ex) when (IsMappingFailure(ex)) { throw AsJsonFailure(ex); }
    }

    public object? Read(ReadOnlyMemory<byte> value, Type type)
    {
        if (value.IsEmpty) return null;
        try { return MessagePackSerializer.Deserialize(type, value, _options); }
        catch (Exception ex) when (IsMappingFailure(ex)) { throw AsJsonFailure(ex); }
    }

    public JsonElement? ReadElement(ReadOnlyMemory<byte> value)
    {
        if (value.IsEmpty) return null;
        var reader = new MessagePackReader(value);
        return JsonElementFormatter.Instance.Deserialize(ref reader, _options);
    }

    public RpcException ReadError(ReadOnlyMemory<byte> error)
    {
        string code = RpcErrorCodes.Internal, message = "";
        int status = 0;
        bool? retryable = null;
        TimeSpan? retryAfter = null;
        JsonElement? details = null;
        var reader = new MessagePackReader(error);
        // TryRead checked the message's structure, not every value's range (a status past int, a bad UTF-8 string): an
        // error object that cannot be read fully still fails its call with what was read, never the receive loop.
        try
        {
            if (reader.NextMessagePackType == MessagePackType.Map)
            {
                int count = reader.ReadMapHeader();
                for (int i = 0; i < count; i++)
                {
                    if (reader.NextMessagePackType != MessagePackType.String) { reader.Skip(); reader.Skip(); continue; }
                    var key = KeySpan(ref reader);
                    if (key.SequenceEqual("code"u8)) code = ReadString(ref reader) ?? code;
                    else if (key.SequenceEqual("message"u8)) message = ReadString(ref reader) ?? "";
                    else if (key.SequenceEqual("status"u8))
                    {
                        if (reader.NextMessagePackType == MessagePackType.Integer) status = reader.ReadInt32();
                        else reader.Skip();
                    }
                    else if (key.SequenceEqual("retryable"u8))
                    {
                        if (reader.NextMessagePackType == MessagePackType.Boolean) retryable = reader.ReadBoolean();
                        else reader.Skip();
                    }
                    else if (key.SequenceEqual("retryAfterMs"u8))
                    {
                        if (reader.NextMessagePackType is MessagePackType.Integer or MessagePackType.Float) retryAfter = TimeSpan.FromMilliseconds(reader.ReadDouble());
                        else reader.Skip();
                    }
                    else if (key.SequenceEqual("details"u8))
                    {
                        if (reader.TryReadNil()) continue;
                        // Details JSON cannot hold (an extension other than the timestamp) must not cost the error itself.
                        var probe = reader.CreatePeekReader();
                        try { details = JsonElementFormatter.Instance.Deserialize(ref probe, _options); }
                        catch (Exception ex) when (IsMappingFailure(ex) || ex is JsonException) { details = null; }
                        reader.Skip();
                    }
                    else reader.Skip();
                }
            }
        }
        catch (Exception ex) when (IsMappingFailure(ex) || ex is JsonException)
        {
            if (message.Length == 0) message = "unreadable error object: " + ex.Message;
        }
        return new RpcException(code, message, status, retryable, retryAfter, details);
    }
}
