using System.Buffers;

namespace Gateway.Protocol.WebSockets;

/// <summary>
/// One serialized server frame in a buffer rented from <see cref="ArrayPool{T}.Shared"/>; whoever
/// consumes it calls <see cref="Return"/>. A struct, so queuing one allocates nothing. A frame handed out
/// by <see cref="SharedFrame.Share"/> is one reference to a buffer many connections write: its
/// <see cref="Return"/> releases that reference, and the last one returns the buffer.
/// </summary>
public readonly struct PooledFrame
{
    private readonly SharedFrame? _owner;

    public PooledFrame(byte[] buffer, int offset, int length, Opcode opcode)
    {
        Buffer = buffer; Offset = offset; Length = length; Opcode = opcode;
    }

    internal PooledFrame(SharedFrame owner, byte[] buffer, int offset, int length, Opcode opcode)
    {
        _owner = owner; Buffer = buffer; Offset = offset; Length = length; Opcode = opcode;
    }

    public byte[] Buffer { get; }
    public int Offset { get; }
    public int Length { get; }
    public Opcode Opcode { get; }
    public ReadOnlySpan<byte> Span => Buffer.AsSpan(Offset, Length);
    public bool IsEmpty => Buffer is null;
    public void Return()
    {
        if (_owner is not null) _owner.Release();
        else if (Buffer is not null) ArrayPool<byte>.Shared.Return(Buffer);
    }

    /// <summary>A frame with <paramref name="payload"/> copied in.</summary>
    public static PooledFrame Create(Opcode opcode, ReadOnlySpan<byte> payload)
    {
        int h = FrameWriter.HeaderSize(payload.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(h + payload.Length);
        FrameWriter.WriteHeader(buffer, opcode, payload.Length);
        payload.CopyTo(buffer.AsSpan(h));
        return new PooledFrame(buffer, 0, h + payload.Length, opcode);
    }

    public static PooledFrame Create(Opcode opcode, in ReadOnlySequence<byte> payload)
    {
        int len = checked((int)payload.Length);
        int h = FrameWriter.HeaderSize(len);
        var buffer = ArrayPool<byte>.Shared.Rent(h + len);
        FrameWriter.WriteHeader(buffer, opcode, len);
        payload.CopyTo(buffer.AsSpan(h));
        return new PooledFrame(buffer, 0, h + len, opcode);
    }

    public static PooledFrame CreateClose(ushort code, ReadOnlySpan<byte> reason)
    {
        var writer = new ArrayBufferWriter<byte>(FrameHeader.MaxHeaderLength + 125);
        if (code == 0) FrameWriter.WriteEmptyClose(writer);
        else FrameWriter.WriteClose(writer, code, reason);
        var buffer = ArrayPool<byte>.Shared.Rent(writer.WrittenCount);
        writer.WrittenSpan.CopyTo(buffer);
        return new PooledFrame(buffer, 0, writer.WrittenCount, Opcode.Close);
    }
}

/// <summary>
/// One frame written to many connections (a topic event, a broadcast): serialized once into a pooled buffer,
/// shared by reference count. The creator holds one reference and ends it with <see cref="Release"/>; every
/// <see cref="Share"/> adds one that the outbox gives back when the bytes are in the pipe.
/// </summary>
public sealed class SharedFrame
{
    private readonly byte[] _buffer;
    private readonly int _offset;
    private readonly int _length;
    private readonly int _payloadOffset;
    private readonly Opcode _opcode;
    private int _references = 1;

    private SharedFrame(byte[] buffer, int offset, int length, int payloadOffset, Opcode opcode)
    {
        _buffer = buffer; _offset = offset; _length = length; _payloadOffset = payloadOffset; _opcode = opcode;
    }

    /// <summary>Takes ownership of a finished frame's buffer.</summary>
    public static SharedFrame From(PooledFrame frame)
    {
        // Server frames are never masked: the 7-bit length code of the second byte says whether 0, 2 or 8 length bytes follow.
        int code = frame.Buffer[frame.Offset + 1] & 0x7F;
        int header = code < 126 ? 2 : code == 126 ? 4 : 10;
        return new SharedFrame(frame.Buffer, frame.Offset, frame.Length, frame.Offset + header, frame.Opcode);
    }

    /// <summary>A frame of <paramref name="opcode"/> around a copy of <paramref name="payload"/>.</summary>
    public static SharedFrame Create(Opcode opcode, ReadOnlySpan<byte> payload) => From(PooledFrame.Create(opcode, payload));

    /// <summary>The whole frame, header included.</summary>
    public ReadOnlySpan<byte> Span => _buffer.AsSpan(_offset, _length);

    /// <summary>The payload (for JSON frames: the envelope), valid while a reference is held.</summary>
    public ReadOnlyMemory<byte> Payload => _buffer.AsMemory(_payloadOffset, _offset + _length - _payloadOffset);

    public int Length => _length;

    /// <summary>One more reference, as a frame to queue on a connection (which returns it once written).</summary>
    public PooledFrame Share()
    {
        Interlocked.Increment(ref _references);
        return new PooledFrame(this, _buffer, _offset, _length, _opcode);
    }

    /// <summary>
    /// Takes <paramref name="count"/> references at once for a loop that then calls <see cref="ShareReserved"/> that many times:
    /// one atomic operation per fan-out instead of one per subscriber. Every reserved frame must be queued or returned.
    /// </summary>
    public void Reserve(int count) => Interlocked.Add(ref _references, count);

    /// <summary>A frame for one of the references taken with <see cref="Reserve"/>.</summary>
    public PooledFrame ShareReserved() => new(this, _buffer, _offset, _length, _opcode);

    /// <summary>Ends one reference; the last returns the buffer to the pool.</summary>
    public void Release()
    {
        int left = Interlocked.Decrement(ref _references);
        if (left == 0) ArrayPool<byte>.Shared.Return(_buffer);
        else if (left < 0) throw new InvalidOperationException("a shared frame was released more often than it was shared");
    }
}

/// <summary>
/// An <see cref="IBufferWriter{T}"/> that serializes a frame's payload (e.g. with Utf8JsonWriter) into a
/// pooled buffer with room reserved in front for the header, so the finished frame is one contiguous
/// run of bytes and the payload is never copied to make room for its header. Reusable: call
/// <see cref="Finish"/> (or <see cref="Discard"/>) and start the next frame.
/// </summary>
public sealed class FrameBuilder : IBufferWriter<byte>
{
    private const int HeaderReserve = 10;
    private byte[]? _buffer;
    private int _position;

    [ThreadStatic] private static FrameBuilder? t_cached;

    /// <summary>A builder for this thread; hand it back with <see cref="Release"/> when done.</summary>
    public static FrameBuilder Rent()
    {
        var b = t_cached;
        if (b is null) return new FrameBuilder();
        t_cached = null;
        return b;
    }

    public static void Release(FrameBuilder builder)
    {
        builder.Discard();
        t_cached = builder;
    }

    public int WrittenCount => _buffer is null ? 0 : _position - HeaderReserve;
    public ReadOnlySpan<byte> WrittenSpan => _buffer is null ? default : _buffer.AsSpan(HeaderReserve, _position - HeaderReserve);

    public void Advance(int count) => _position += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_position);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_position);
    }

    /// <summary>Writes the header in front of the payload and hands the buffer over.</summary>
    public PooledFrame Finish(Opcode opcode)
    {
        Ensure(0);
        int len = _position - HeaderReserve;
        int h = FrameWriter.HeaderSize(len);
        FrameWriter.WriteHeader(_buffer.AsSpan(HeaderReserve - h), opcode, len);
        var frame = new PooledFrame(_buffer!, HeaderReserve - h, h + len, opcode);
        _buffer = null;
        _position = 0;
        return frame;
    }

    public void Discard()
    {
        if (_buffer is not null) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = null;
        _position = 0;
    }

    private void Ensure(int sizeHint)
    {
        if (sizeHint < 1) sizeHint = 1;
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(HeaderReserve + Math.Max(sizeHint, 512));
            _position = HeaderReserve;
            return;
        }
        if (_buffer.Length - _position >= sizeHint) return;
        var next = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _position + sizeHint));
        _buffer.AsSpan(0, _position).CopyTo(next);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = next;
    }
}
