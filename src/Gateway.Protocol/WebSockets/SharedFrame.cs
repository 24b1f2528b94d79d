using System.Buffers;

namespace Gateway.Protocol.WebSockets;

/// <summary>
/// One frame written to many connections (a topic event, a broadcast): serialized once into a pooled buffer,
/// shared by reference count. The creator holds one reference and ends it with <see cref="Release"/>; every
/// <see cref="Share"/> adds one that the outbox gives back when the bytes are in the pipe.
/// </summary>
public sealed partial class SharedFrame
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
        if (left == 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            ReleaseCompressed();
        }
        else if (left < 0) throw new InvalidOperationException("a shared frame was released more often than it was shared");
    }
}
