using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.Rpc;
using Gateway.Protocol.WebSockets;
using Gateway.Server.WebSockets;

namespace Gateway.Server.Codec;

/// <summary>Which member of a reply carries a value: a request's result, a stream item, or progress.</summary>
internal enum ReplyMember : byte { Result, Data, Progress }

/// <summary>
/// One wire format of the RPC protocol, chosen per connection by the negotiated subprotocol: it reads the envelope and
/// the values in it, and writes every message the gateway sends (replies, stream items, progress, errors, calls from
/// the server, events). Dispatch, the call registry and the replies only ever talk to this interface, so a second format
/// (MessagePack) is a second implementation plus its subprotocol in <see cref="Rpc.RpcApplication"/>'s list. Between
/// nodes (cluster messages, forwarded errors, server-call payloads) and for events, JSON stays the canonical form.
/// </summary>
/// <remarks>
/// Hot path: one message costs one <see cref="ReadEnvelope"/>, one <see cref="ReadValue{T}"/> and one reply write.
/// Implementations write straight into pooled frames and allocate nothing per message. Values are described by
/// <see cref="JsonTypeInfo{T}"/> (the contract System.Text.Json resolved at startup); a binary format can use its
/// properties or keep its own per-type cache. Between nodes (backplane) and for server-call payloads the canonical
/// form is JSON, which a binary codec converts at the connection's edge.
/// </remarks>
internal interface IWireCodec
{
    /// <summary>The WebSocket subprotocol this format is negotiated under (e.g. <c>gateway.v1.json</c>).</summary>
    string Subprotocol { get; }

    /// <summary>The frame type its messages travel in (text for JSON, binary for a binary format).</summary>
    Opcode FrameOpcode { get; }

    /// <summary>Parses one message into its envelope; raw members are slices of <paramref name="message"/>, the path is copied into <paramref name="pathBuffer"/>.</summary>
    void ReadEnvelope(in ReadOnlySequence<byte> message, Span<char> pathBuffer, out Envelope envelope, int maxDepth);

    /// <summary>The W3C trace context in an envelope's <c>meta</c> (read only when a trace listener exists).</summary>
    bool TryReadTraceContext(in ReadOnlySequence<byte> meta, out System.Diagnostics.ActivityContext context);

    /// <summary>Whether an encoded value is the format's null.</summary>
    bool IsNull(in ReadOnlySequence<byte> value);

    /// <summary>Reads one value (a call's input); throws the serializer's exceptions for a value that does not fit.</summary>
    T ReadValue<T>(in ReadOnlySequence<byte> value, JsonTypeInfo<T> info, int maxDepth);

    /// <summary>A reply carrying a value. Results are never dropped; stream items and progress may be, for a slow consumer.</summary>
    bool SendValue<T>(WebSocketSession session, in RequestId id, ReplyMember member, T value, JsonTypeInfo<T> info);

    /// <summary>
    /// The message <see cref="SendValue{T}"/> sends, written as a bare payload (no frame header) into <paramref name="output"/>:
    /// for a caller that frames several messages back to back in one buffer (a burst of stream items, <see cref="Rpc.StreamBatch"/>).
    /// </summary>
    void WriteValueMessage<T>(IBufferWriter<byte> output, in RequestId id, ReplyMember member, T value, JsonTypeInfo<T> info);

    /// <summary>A null result (a handler that returns nothing).</summary>
    bool SendNullResult(WebSocketSession session, in RequestId id);

    /// <summary>The end of a stream.</summary>
    bool SendDone(WebSocketSession session, in RequestId id);

    /// <summary>A result already encoded by <see cref="Encode"/> (the built-ins' fixed answers).</summary>
    bool SendEncodedResult(WebSocketSession session, in RequestId id, ReadOnlyMemory<byte> result);

    /// <summary>An error reply; the error object is the protocol's (<see cref="ErrorObjects"/>).</summary>
    bool SendError(WebSocketSession session, in RequestId id, ErrorCode code, string message, bool retryable, TimeSpan? retryAfter, object? details, JsonSerializerOptions json);

    /// <summary>A call from the server, <paramref name="inputJson"/> in canonical JSON (null: no input).</summary>
    bool SendServerCall(WebSocketSession session, long id, string path, byte[]? inputJson);

    /// <summary>Tells the client to stop working on a call from the server.</summary>
    bool SendServerCallCancel(WebSocketSession session, long id);

    /// <summary>An event, serialized once into a frame shared by every recipient.</summary>
    SharedFrame BuildEvent<T>(string eventName, string? topic, T data, JsonTypeInfo<T> info);

    /// <summary>Encodes a value once, at startup, for <see cref="SendEncodedResult"/>.</summary>
    byte[] Encode(object value, JsonSerializerOptions options);

    /// <summary>
    /// The text under which a call with this raw id is tracked (cancel by id) once it outlives its message; what
    /// <see cref="RequestId.Text"/> then holds, which this codec must be able to echo in the id's own type.
    /// </summary>
    string IdKey(in ReadOnlySequence<byte> rawId);

    /// <summary>Reads the id of a client's answer to a server call (the server's ids are integers).</summary>
    bool TryReadCallId(in ReadOnlySequence<byte> rawId, out long id);

    /// <summary>A value of a client's message (a server call's result or error) in canonical JSON; null when it already is.</summary>
    byte[]? ToCanonicalJson(in ReadOnlySequence<byte> value, int maxDepth);

    /// <summary>An event frame in this format from the canonical JSON event (<see cref="EventFrames"/>); null: the canonical frame is this format's.</summary>
    SharedFrame? FromCanonicalEvent(ReadOnlySpan<byte> canonicalPayload);
}
