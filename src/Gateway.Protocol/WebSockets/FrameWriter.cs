using System.Buffers;
using System.Buffers.Binary;

namespace Gateway.Protocol.WebSockets;

/// <summary>Writes unmasked server frames straight into an <see cref="IBufferWriter{T}"/> (a pipe).</summary>
public static class FrameWriter
{
    /// <summary>Size of the header for a payload of <paramref name="payloadLength"/> bytes.</summary>
    public static int HeaderSize(long payloadLength) => payloadLength <= 125 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10;

    /// <summary>Writes a header into <paramref name="destination"/> and returns its length.</summary>
    public static int WriteHeader(Span<byte> destination, Opcode opcode, long payloadLength, bool fin = true)
    {
        destination[0] = (byte)((fin ? 0x80 : 0) | (byte)opcode);
        if (payloadLength <= 125)
        {
            destination[1] = (byte)payloadLength;
            return 2;
        }
        if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), (ushort)payloadLength);
            return 4;
        }
        destination[1] = 127;
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(2), (ulong)payloadLength);
        return 10;
    }

    public static void WriteHeader(IBufferWriter<byte> output, Opcode opcode, long payloadLength, bool fin = true)
    {
        var span = output.GetSpan(FrameHeader.MaxHeaderLength);
        output.Advance(WriteHeader(span, opcode, payloadLength, fin));
    }

    public static void WriteFrame(IBufferWriter<byte> output, Opcode opcode, ReadOnlySpan<byte> payload)
    {
        WriteHeader(output, opcode, payload.Length);
        Write(output, payload);
    }

    public static void WriteFrame(IBufferWriter<byte> output, Opcode opcode, in ReadOnlySequence<byte> payload)
    {
        WriteHeader(output, opcode, payload.Length);
        foreach (var segment in payload) Write(output, segment.Span);
    }

    /// <summary>A close frame; <paramref name="reason"/> is cut so the payload stays within 125 bytes.</summary>
    public static void WriteClose(IBufferWriter<byte> output, ushort code, ReadOnlySpan<byte> reason)
    {
        if (reason.Length > 123) reason = TrimUtf8(reason, 123);
        var span = output.GetSpan(2 + 2 + reason.Length);
        int h = WriteHeader(span, Opcode.Close, 2 + reason.Length);
        BinaryPrimitives.WriteUInt16BigEndian(span.Slice(h), code);
        reason.CopyTo(span.Slice(h + 2));
        output.Advance(h + 2 + reason.Length);
    }

    /// <summary>A close frame with no status code (the answer to a close that carried none).</summary>
    public static void WriteEmptyClose(IBufferWriter<byte> output) => WriteHeader(output, Opcode.Close, 0);

    private static void Write(IBufferWriter<byte> output, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var span = output.GetSpan();
            int n = Math.Min(span.Length, data.Length);
            data.Slice(0, n).CopyTo(span);
            output.Advance(n);
            data = data.Slice(n);
        }
    }

    // Never cut a multi-byte character in half: the peer would fail us with 1007.
    private static ReadOnlySpan<byte> TrimUtf8(ReadOnlySpan<byte> s, int max)
    {
        int n = max;
        while (n > 0 && (s[n] & 0xC0) == 0x80) n--;
        return s.Slice(0, n);
    }
}
