using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.Http;
using Gateway.Protocol.Rpc;
using Gateway.Protocol.WebSockets;
using Gateway.Server.WebSockets;

namespace Gateway.Server.Codec;

/// <summary>
/// <c>gateway.v1.json</c> (PROTOCOL.md): envelopes parsed by <see cref="JsonEnvelope"/> without copying, replies written
/// by Utf8JsonWriter straight into pooled frames (<see cref="JsonFrames"/>). Stateless: one instance serves every connection.
/// </summary>
internal sealed class JsonWireCodec : IWireCodec
{
    public static readonly JsonWireCodec Instance = new();

    private JsonWireCodec() { }

    public string Subprotocol => WebSocketHandshake.JsonSubprotocol;
    public Opcode FrameOpcode => Opcode.Text;

    public void ReadEnvelope(in ReadOnlySequence<byte> message, Span<char> pathBuffer, out Envelope envelope, int maxDepth) =>
        JsonEnvelope.Parse(message, pathBuffer, out envelope, maxDepth);

    public bool TryReadTraceContext(in ReadOnlySequence<byte> meta, out System.Diagnostics.ActivityContext context) =>
        EnvelopeMeta.TryReadJsonTraceContext(meta, out context);

    public bool IsNull(in ReadOnlySequence<byte> value) => value.Length == 4 && value.FirstSpan[0] == (byte)'n';

    public T ReadValue<T>(in ReadOnlySequence<byte> value, JsonTypeInfo<T> info, int maxDepth)
    {
        // A pass-through value is a copy of the client's bytes, already checked by the envelope parser (JIT folds these tests per T).
        if (typeof(T) == typeof(EncodedValue?))
        {
            EncodedValue? encoded = new EncodedValue(WireFormat.Json, value.ToArray());
            return Unsafe.As<EncodedValue?, T>(ref encoded);
        }
        if (typeof(T) == typeof(EncodedValue))
        {
            var encoded = new EncodedValue(WireFormat.Json, value.ToArray());
            return Unsafe.As<EncodedValue, T>(ref encoded);
        }
        var reader = new Utf8JsonReader(value, new JsonReaderOptions { MaxDepth = maxDepth });
        return JsonSerializer.Deserialize(ref reader, info)!;
    }

    private readonly struct ValueReply<T>(RequestId id, T value, JsonTypeInfo<T> info, ReplyMember member)
    {
        public readonly RequestId Id = id;
        public readonly T Value = value;
        public readonly JsonTypeInfo<T> Info = info;
        public readonly ReplyMember Member = member;
    }

    public bool SendValue<T>(WebSocketSession session, in RequestId id, ReplyMember member, T value, JsonTypeInfo<T> info) =>
        JsonFrames.Send(session, new ValueReply<T>(id, value, info, member), static (Utf8JsonWriter w, in ValueReply<T> r) =>
        {
            w.WriteStartObject();
            JsonFrames.WriteId(w, in r.Id);
            w.WritePropertyName(r.Member switch { ReplyMember.Result => "result"u8, ReplyMember.Data => "data"u8, _ => "progress"u8 });
            JsonFrames.WriteValue(w, r.Value, r.Info);
            w.WriteEndObject();
        }, isTerminal: member == ReplyMember.Result);

    private static readonly JsonEncodedText s_idName = JsonEncodedText.Encode("id"), s_dataName = JsonEncodedText.Encode("data"),
        s_resultName = JsonEncodedText.Encode("result"), s_progressName = JsonEncodedText.Encode("progress");

    public void WriteValueMessage<T>(IBufferWriter<byte> output, in RequestId id, ReplyMember member, T value, JsonTypeInfo<T> info)
    {
        // Pre-encoded names: a plain UTF-8 name is scanned for characters to escape on every write, a tenth of a stream
        // item's cost in a profile of echo/count.
        var w = JsonFrames.Begin(output);
        w.WriteStartObject();
        w.WritePropertyName(s_idName);
        if (id.Text is { Length: > 0 } text) w.WriteRawValue(text, skipInputValidation: true);
        else if (id.Raw.IsEmpty) w.WriteNullValue();
        else w.WriteRawValue(id.Raw, skipInputValidation: true);
        w.WritePropertyName(member switch { ReplyMember.Result => s_resultName, ReplyMember.Data => s_dataName, _ => s_progressName });
        JsonFrames.WriteValue(w, value, info);
        w.WriteEndObject();
        w.Flush();
    }

    public bool SendNullResult(WebSocketSession session, in RequestId id) =>
        JsonFrames.Send(session, id, static (Utf8JsonWriter w, in RequestId id) =>
        {
            w.WriteStartObject();
            JsonFrames.WriteId(w, in id);
            w.WriteNull("result"u8);
            w.WriteEndObject();
        }, isTerminal: true);

    public bool SendDone(WebSocketSession session, in RequestId id) =>
        JsonFrames.Send(session, id, static (Utf8JsonWriter w, in RequestId id) =>
        {
            w.WriteStartObject();
            JsonFrames.WriteId(w, in id);
            w.WriteNull("data"u8);
            w.WriteBoolean("done"u8, true);
            w.WriteEndObject();
        }, isTerminal: true);

    private readonly record struct EncodedResult(RequestId Id, ReadOnlyMemory<byte> Json);

    public bool SendEncodedResult(WebSocketSession session, in RequestId id, ReadOnlyMemory<byte> result) =>
        JsonFrames.Send(session, new EncodedResult(id, result), static (Utf8JsonWriter w, in EncodedResult r) =>
        {
            w.WriteStartObject();
            var id = r.Id;
            JsonFrames.WriteId(w, in id);
            w.WritePropertyName("result"u8);
            w.WriteRawValue(r.Json.Span, skipInputValidation: true);
            w.WriteEndObject();
        }, isTerminal: true);

    private readonly record struct ErrorReply(RequestId Id, ErrorCode Code, string Message, bool Retryable, TimeSpan? RetryAfter, object? Details, JsonSerializerOptions Json);

    public bool SendError(WebSocketSession session, in RequestId id, ErrorCode code, string message, bool retryable, TimeSpan? retryAfter, object? details, JsonSerializerOptions json) =>
        JsonFrames.Send(session, new ErrorReply(id, code, message, retryable, retryAfter, details, json), static (Utf8JsonWriter w, in ErrorReply e) =>
        {
            w.WriteStartObject();
            var id = e.Id;
            JsonFrames.WriteId(w, in id);
            w.WritePropertyName("error"u8);
            ErrorObjects.Write(w, e.Code, e.Message, e.Retryable, e.RetryAfter, e.Details, e.Json);
            w.WriteEndObject();
        }, isTerminal: true);

    private readonly record struct OutgoingCall(long Id, string Path, byte[]? Input);

    public bool SendServerCall(WebSocketSession session, long id, string path, byte[]? inputJson) =>
        JsonFrames.Send(session, new OutgoingCall(id, path, inputJson), static (Utf8JsonWriter w, in OutgoingCall c) =>
        {
            w.WriteStartObject();
            w.WriteNumber("id"u8, c.Id);
            w.WriteString("path"u8, c.Path);
            if (c.Input is not null)
            {
                w.WritePropertyName("input"u8);
                w.WriteRawValue(c.Input, skipInputValidation: true);
            }
            w.WriteEndObject();
        }, isTerminal: true);

    public bool SendServerCallCancel(WebSocketSession session, long id) =>
        JsonFrames.Send(session, id, static (Utf8JsonWriter w, in long id) =>
        {
            w.WriteStartObject();
            w.WriteNumber("id"u8, id);
            w.WriteBoolean("cancel"u8, true);
            w.WriteEndObject();
        }, isTerminal: true);

    public SharedFrame BuildEvent<T>(string eventName, string? topic, T data, JsonTypeInfo<T> info) => EventFrames.Build(eventName, topic, data, info);

    public byte[] Encode(object value, JsonSerializerOptions options) => JsonSerializer.SerializeToUtf8Bytes(value, value.GetType(), options);

    /// <summary>The id's JSON text as sent (<c>"a"</c> with its quotes, or <c>7</c>): written back raw.</summary>
    public string IdKey(in ReadOnlySequence<byte> rawId) => System.Text.EncodingExtensions.GetString(System.Text.Encoding.UTF8, rawId);

    public bool TryReadCallId(in ReadOnlySequence<byte> rawId, out long id)
    {
        id = 0;
        return rawId.IsSingleSegment
            ? System.Buffers.Text.Utf8Parser.TryParse(rawId.FirstSpan, out id, out int used) && used == rawId.Length
            : long.TryParse(System.Text.EncodingExtensions.GetString(System.Text.Encoding.UTF8, rawId), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out id);
    }

    public byte[]? ToCanonicalJson(in ReadOnlySequence<byte> value, int maxDepth) => null;

    public SharedFrame? FromCanonicalEvent(ReadOnlySpan<byte> canonicalPayload) => null;
}
