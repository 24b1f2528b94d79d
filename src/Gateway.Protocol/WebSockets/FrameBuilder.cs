using System.Buffers;

namespace Gateway.Protocol.WebSockets;

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
