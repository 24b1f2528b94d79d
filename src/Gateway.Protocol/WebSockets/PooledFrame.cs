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

    /// <summary>The shared frame this one is a reference to (a fan-out), or null.</summary>
    internal SharedFrame? Owner => _owner;
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
