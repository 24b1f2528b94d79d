using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.Http;
using Gateway.Protocol.Rpc;
using Gateway.Protocol.WebSockets;
using Gateway.Server.WebSockets;
using Gateway.Shared.MsgPack;
using MessagePack;

namespace Gateway.Server.Codec;

/// <summary>
/// <c>gateway.v1.msgpack</c>: one binary frame holds one MessagePack map with the JSON envelope's keys. Envelopes are read
/// by <see cref="MessagePackEnvelope"/> over the library's reader without copying; values go through MessagePack-CSharp
/// with <see cref="JsonContractResolver"/> (System.Text.Json's contracts, so handler types look the same in both formats);
/// replies are written with <see cref="MessagePackWriter"/> straight into pooled frames. Events and server-call inputs
/// arrive in canonical JSON and are transcoded here, at the connection's edge. Stateless: one instance serves every connection.
/// </summary>
internal sealed class MessagePackWireCodec : IWireCodec
{
    public static readonly MessagePackWireCodec Instance = new();

    private MessagePackWireCodec() { }

    public string Subprotocol => WebSocketHandshake.MsgPackSubprotocol;
    public Opcode FrameOpcode => Opcode.Binary;

    public void ReadEnvelope(in ReadOnlySequence<byte> message, Span<char> pathBuffer, out Envelope envelope, int maxDepth) =>
        MessagePackEnvelope.Parse(message, pathBuffer, out envelope, maxDepth);

    public bool TryReadTraceContext(in ReadOnlySequence<byte> meta, out System.Diagnostics.ActivityContext context) =>
        EnvelopeMeta.TryReadMessagePackTraceContext(meta, out context);

    public bool IsNull(in ReadOnlySequence<byte> value) => value.Length == 1 && value.FirstSpan[0] == MessagePackCode.Nil;

    public T ReadValue<T>(in ReadOnlySequence<byte> value, JsonTypeInfo<T> info, int maxDepth)
    {
        try
        {
            // A pass-through value is a copy of the client's bytes: no serializer, no transcode (JIT folds these tests per T).
            if (typeof(T) == typeof(EncodedValue?))
            {
                EncodedValue? encoded = EncodedValueFormatter.Read(value, maxDepth);
                return Unsafe.As<EncodedValue?, T>(ref encoded);
            }
            if (typeof(T) == typeof(EncodedValue))
            {
                var encoded = EncodedValueFormatter.Read(value, maxDepth);
                return Unsafe.As<EncodedValue, T>(ref encoded);
            }
            return MessagePackSerializer.Deserialize<T>(value, MessagePackFormats.For(info.Options).Reading(maxDepth));
        }
        catch (MessagePackSerializationException ex)
        {
            // The library wraps what the formatters threw: hand the caller the serializer's own exception (with its path),
            // or say in JSON terms that the value did not fit.
            if (ex.InnerException is JsonException or NotSupportedException or InvalidOperationException or FormatException or OverflowException)
                ExceptionDispatchInfo.Throw(ex.InnerException);
            string message = ex.InnerException?.Message ?? ex.Message;
            if (message.Contains("depth", StringComparison.OrdinalIgnoreCase)) message = "exceeds the maximum allowed depth";
            throw new JsonException(message, ex);
        }
        catch (EndOfStreamException ex)
        {
            throw new JsonException("the value ends early", ex);
        }
    }

    private readonly struct ValueReply<T>(RequestId id, T value, MessagePackSerializerOptions options, ReplyMember member)
    {
        public readonly RequestId Id = id;
        public readonly T Value = value;
        public readonly MessagePackSerializerOptions Options = options;
        public readonly ReplyMember Member = member;
    }

    public bool SendValue<T>(WebSocketSession session, in RequestId id, ReplyMember member, T value, JsonTypeInfo<T> info)
    {
        // A MessagePack pass-through value answering the id of the message being handled (echo/echo): the reply is the
        // map header, the id's bytes as sent and the value's bytes, copied; no writer needed (the JIT drops this for other T).
        if (typeof(T) == typeof(EncodedValue) || typeof(T) == typeof(EncodedValue?))
        {
            var encoded = typeof(T) == typeof(EncodedValue)
                ? Unsafe.As<T, EncodedValue>(ref value)
                : Unsafe.As<T, EncodedValue?>(ref value).GetValueOrDefault();
            if (encoded.Format == WireFormat.MessagePack && id.Text is null && !id.Raw.IsEmpty)
                return MessagePackFrames.SendVerbatim(session, id.Raw, member, encoded.Encoded.Span);
        }
        return MessagePackFrames.Send(session, new ValueReply<T>(id, value, MessagePackFormats.For(info.Options).Writing, member), static (ref MessagePackWriter w, in ValueReply<T> r) =>
        {
            w.WriteMapHeader(2);
            MessagePackFrames.WriteId(ref w, in r.Id);
            w.WriteString(r.Member switch { ReplyMember.Result => "result"u8, ReplyMember.Data => "data"u8, _ => "progress"u8 });
            if (r.Value is null) w.WriteNil();
            else if (typeof(T) == typeof(EncodedValue?)) EncodedValueFormatter.Write(ref w, Unsafe.As<T, EncodedValue?>(ref Unsafe.AsRef(in r.Value)).GetValueOrDefault());
            else if (typeof(T) == typeof(EncodedValue)) EncodedValueFormatter.Write(ref w, Unsafe.As<T, EncodedValue>(ref Unsafe.AsRef(in r.Value)));
            else MessagePackSerializer.Serialize(ref w, r.Value, r.Options);
        }, isTerminal: member == ReplyMember.Result);
    }

    public void WriteValueMessage<T>(IBufferWriter<byte> output, in RequestId id, ReplyMember member, T value, JsonTypeInfo<T> info)
    {
        var w = new MessagePackWriter(output);
        w.WriteMapHeader(2);
        MessagePackFrames.WriteId(ref w, in id);
        w.WriteString(member switch { ReplyMember.Result => "result"u8, ReplyMember.Data => "data"u8, _ => "progress"u8 });
        if (value is null) w.WriteNil();
        else MessagePackSerializer.Serialize(ref w, value, MessagePackFormats.For(info.Options).Writing);
        w.Flush();
    }

    public bool SendNullResult(WebSocketSession session, in RequestId id) =>
        MessagePackFrames.Send(session, id, static (ref MessagePackWriter w, in RequestId id) =>
        {
            w.WriteMapHeader(2);
            MessagePackFrames.WriteId(ref w, in id);
            w.WriteString("result"u8);
            w.WriteNil();
        }, isTerminal: true);

    public bool SendDone(WebSocketSession session, in RequestId id) =>
        MessagePackFrames.Send(session, id, static (ref MessagePackWriter w, in RequestId id) =>
        {
            w.WriteMapHeader(3);
            MessagePackFrames.WriteId(ref w, in id);
            w.WriteString("data"u8);
            w.WriteNil();
            w.WriteString("done"u8);
            w.Write(true);
        }, isTerminal: true);

    private readonly record struct EncodedResult(RequestId Id, ReadOnlyMemory<byte> Value);

    public bool SendEncodedResult(WebSocketSession session, in RequestId id, ReadOnlyMemory<byte> result) =>
        MessagePackFrames.Send(session, new EncodedResult(id, result), static (ref MessagePackWriter w, in EncodedResult r) =>
        {
            w.WriteMapHeader(2);
            var id = r.Id;
            MessagePackFrames.WriteId(ref w, in id);
            w.WriteString("result"u8);
            w.WriteRaw(r.Value.Span);
        }, isTerminal: true);

    private readonly record struct ErrorReply(RequestId Id, ErrorCode Code, string Message, bool Retryable, TimeSpan? RetryAfter, object? Details, JsonSerializerOptions Json);

    public bool SendError(WebSocketSession session, in RequestId id, ErrorCode code, string message, bool retryable, TimeSpan? retryAfter, object? details, JsonSerializerOptions json) =>
        MessagePackFrames.Send(session, new ErrorReply(id, code, message, retryable, retryAfter, details, json), static (ref MessagePackWriter w, in ErrorReply e) =>
        {
            w.WriteMapHeader(2);
            var id = e.Id;
            MessagePackFrames.WriteId(ref w, in id);
            w.WriteString("error"u8);
            WriteErrorObject(ref w, e.Code, e.Message, e.Retryable, e.RetryAfter, e.Details, e.Json);
        }, isTerminal: true);

    /// <summary>The protocol's error object (ErrorObjects) as a map with the same keys; details by their runtime type.</summary>
    private static void WriteErrorObject(ref MessagePackWriter w, ErrorCode code, string message, bool retryable, TimeSpan? retryAfter, object? details, JsonSerializerOptions json)
    {
        w.WriteMapHeader(4 + (retryAfter is null ? 0 : 1) + (details is null ? 0 : 1));
        w.WriteString("code"u8);
        w.Write(code.WireName());
        w.WriteString("status"u8);
        w.Write(code.Status());
        w.WriteString("message"u8);
        w.Write(message);
        w.WriteString("retryable"u8);
        w.Write(retryable);
        if (retryAfter is { } after)
        {
            w.WriteString("retryAfterMs"u8);
            w.Write((long)Math.Ceiling(after.TotalMilliseconds));
        }
        if (details is not null)
        {
            w.WriteString("details"u8);
            MessagePackSerializer.Serialize(details.GetType(), ref w, details, MessagePackFormats.For(json).Writing);
        }
    }

    private readonly record struct OutgoingCall(long Id, string Path, byte[]? Input);

    public bool SendServerCall(WebSocketSession session, long id, string path, byte[]? inputJson) =>
        MessagePackFrames.Send(session, new OutgoingCall(id, path, inputJson), static (ref MessagePackWriter w, in OutgoingCall c) =>
        {
            w.WriteMapHeader(c.Input is null ? 2 : 3);
            w.WriteString("id"u8);
            w.Write(c.Id);
            w.WriteString("path"u8);
            w.Write(c.Path);
            if (c.Input is not null)
            {
                w.WriteString("input"u8);
                JsonTranscoder.JsonToMessagePack(c.Input, ref w);
            }
        }, isTerminal: true);

    public bool SendServerCallCancel(WebSocketSession session, long id) =>
        MessagePackFrames.Send(session, id, static (ref MessagePackWriter w, in long id) =>
        {
            w.WriteMapHeader(2);
            w.WriteString("id"u8);
            w.Write(id);
            w.WriteString("cancel"u8);
            w.Write(true);
        }, isTerminal: true);

    public SharedFrame BuildEvent<T>(string eventName, string? topic, T data, JsonTypeInfo<T> info)
    {
        // The same bytes a subscriber on another node gets: the canonical JSON event, transcoded.
        var canonical = EventFrames.Build(eventName, topic, data, info);
        try { return FromCanonicalEvent(canonical.Payload.Span)!; }
        finally { canonical.Release(); }
    }

    public SharedFrame? FromCanonicalEvent(ReadOnlySpan<byte> canonicalPayload)
    {
        var builder = FrameBuilder.Rent();
        try
        {
            var writer = new MessagePackWriter(builder);
            JsonTranscoder.JsonToMessagePack(canonicalPayload, ref writer);
            writer.Flush();
            return SharedFrame.From(builder.Finish(Opcode.Binary));
        }
        finally
        {
            FrameBuilder.Release(builder);
        }
    }

    public byte[] Encode(object value, JsonSerializerOptions options) =>
        JsonTranscoder.JsonToMessagePack(JsonSerializer.SerializeToUtf8Bytes(value, value.GetType(), options));

    /// <summary>An integer id is its digits, a string id the string in quotes (never parsed as JSON: only this codec reads it back).</summary>
    public string IdKey(in ReadOnlySequence<byte> rawId)
    {
        var reader = new MessagePackReader(rawId);
        return reader.NextMessagePackType == MessagePackType.String
            ? "\"" + reader.ReadString() + "\""
            : reader.ReadInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public bool TryReadCallId(in ReadOnlySequence<byte> rawId, out long id)
    {
        id = 0;
        var reader = new MessagePackReader(rawId);
        if (reader.NextMessagePackType != MessagePackType.Integer) return false;
        id = reader.ReadInt64();
        return true;
    }

    public byte[]? ToCanonicalJson(in ReadOnlySequence<byte> value, int maxDepth)
    {
        try
        {
            return JsonTranscoder.MessagePackToJson(value, maxDepth);
        }
        catch (Exception ex) when (ex is MessagePackSerializationException or EndOfStreamException)
        {
            // The envelope reader checked the structure; what is left is a value JSON cannot hold (a bad timestamp).
            throw new JsonException(ex.Message, ex);
        }
    }
}
