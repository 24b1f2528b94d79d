using System.Buffers;
using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.WebSockets;
using Gateway.Server.Codec;
using Gateway.Server.WebSockets;

namespace Gateway.Server.Rpc;

/// <summary>
/// The items of one subscription that its handler produced without waiting, serialized back to back into one pooled
/// buffer, each a complete WebSocket message of its own (the protocol does not change: one <c>{"id":..,"data":..}</c>
/// per item), and queued on the session as one run: one enqueue, one drain, one write and one pair of counter updates
/// per batch instead of per item. A batch is flushed before the stream awaits, when it reaches <see cref="TargetBytes"/>,
/// before progress of the same call (so items and progress keep their order), before an item that does not fit under
/// Limits:SendBufferLimitBytes (which then follows Limits:SlowConsumerPolicy one by one, as before), and at the end.
/// </summary>
/// <remarks>
/// Used by one stream loop at a time. Not used on a compressed session: the outbox deflates each queued frame as
/// one message.
/// </remarks>
internal sealed class StreamBatch : IBufferWriter<byte>
{
    /// <summary>
    /// Flushed at this size: a few hundred small items per write, while a batch waiting to be queued stays small next
    /// to the send limit and inside the array pool's cached sizes.
    /// </summary>
    internal const int TargetBytes = 16 * 1024;

    // Room for the header of a payload up to 64 KiB; a smaller payload moves two bytes left, a larger one six right.
    private const int HeaderReserve = 4;

    private readonly WebSocketSession _session;
    private readonly IWireCodec _codec;
    private readonly Opcode _opcode;
    private byte[]? _buffer;
    private int _position;
    private int _frameStart;
    private int _count;
    // What the session could still take when last read; re-read once the batch outgrows it.
    private long _room;
    // Bytes of the last batch queued: the next buffer is rented to fit a batch like it. A queued batch holds its whole
    // buffer until it is written, so a stream that waits between items (batches of one item, perhaps queued by the
    // thousand for a slow consumer) must not rent a 32 KiB buffer for each of them.
    private int _lastLength;

    private readonly RequestId _id;

    /// <param name="id">The stream's id, already pinned (it outlives the request's message).</param>
    public StreamBatch(WebSocketSession session, IWireCodec codec, in RequestId id)
    {
        _session = session;
        _codec = codec;
        _opcode = codec.FrameOpcode;
        // A pinned JSON id is its raw token as a string, transcoded to UTF-8 on every write: encode it once per stream.
        // (A MessagePack key is not its wire form, so that codec keeps the id as it is.)
        _id = codec is JsonWireCodec && id.Text is { Length: > 0 } text
            ? new RequestId(new ReadOnlySequence<byte>(System.Text.Encoding.UTF8.GetBytes(text)))
            : id;
    }

    /// <summary>The managed thread filling the batch while the stream runs synchronously; 0 while it awaits.</summary>
    public int OwnerThread;

    /// <summary>Bytes built and not yet queued.</summary>
    public int Length => _position;

    /// <summary>Items built and not yet queued.</summary>
    public int Count => _count;

    /// <summary>
    /// True while the session has room for what is built: the next item may join the batch. False exactly when,
    /// one by one, the session would be over its send limit for the next item (the caller flushes and sends it alone).
    /// </summary>
    public bool HasRoom()
    {
        if (_position < _room) return true;
        _room = _session.SendRoom;
        return _position < _room;
    }

    /// <summary>Serializes one item as a complete frame at the end of the batch.</summary>
    public void Add<T>(T value, JsonTypeInfo<T> info)
    {
        _frameStart = _position;
        Ensure(HeaderReserve + 64);
        _position += HeaderReserve;
        try
        {
            _codec.WriteValueMessage(this, in _id, ReplyMember.Data, value, info);
        }
        catch
        {
            // The batch keeps the items before this one; the half-written one is cut off.
            _position = _frameStart;
            throw;
        }
        int payloadStart = _frameStart + HeaderReserve;
        int length = _position - payloadStart;
        int header = FrameWriter.HeaderSize(length);
        if (header != HeaderReserve)
        {
            if (header > HeaderReserve) Ensure(header - HeaderReserve);
            // Overlapping copy: Span.CopyTo behaves as if through a temporary.
            _buffer.AsSpan(payloadStart, length).CopyTo(_buffer.AsSpan(_frameStart + header));
        }
        FrameWriter.WriteHeader(_buffer.AsSpan(_frameStart), _opcode, length);
        _position = _frameStart + header + length;
        _count++;
    }

    /// <summary>Queues what is built, unless nothing more may be sent for <paramref name="call"/> (cancelled, finished).</summary>
    public void Flush(RpcCall call)
    {
        if (_count == 0) return;
        var frames = new PooledFrame(_buffer!, 0, _position, _opcode);
        _lastLength = _position;
        int count = _count;
        _buffer = null;
        _position = 0;
        _count = 0;
        _room = 0;
        // After a cancel nothing more goes out for the id (PROTOCOL.md): items built before it was read are dropped too.
        if (!call.CanSend)
        {
            frames.Return();
            return;
        }
        _session.SendBatch(frames, count);
    }

    /// <summary>Gives the buffer back without sending (the stream ended without a flush: cancelled, or failed while closing).</summary>
    public void Discard()
    {
        if (_buffer is not null) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = null;
        _position = 0;
        _count = 0;
        _room = 0;
    }

    void IBufferWriter<byte>.Advance(int count) => _position += count;

    Memory<byte> IBufferWriter<byte>.GetMemory(int sizeHint)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_position);
    }

    Span<byte> IBufferWriter<byte>.GetSpan(int sizeHint)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_position);
    }

    private void Ensure(int sizeHint)
    {
        if (sizeHint < 1) sizeHint = 1;
        if (_buffer is null)
        {
            // As FrameBuilder's first rent (1 KiB from the pool) for a stream of single items; room for a whole batch
            // (with Utf8JsonWriter's 256-byte first request for the last item) when the last batch was one.
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(_position + sizeHint, Math.Clamp(2 * _lastLength, 1024, 2 * TargetBytes)));
            return;
        }
        if (_buffer.Length - _position >= sizeHint) return;
        var next = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _position + sizeHint));
        _buffer.AsSpan(0, _position).CopyTo(next);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = next;
    }
}
