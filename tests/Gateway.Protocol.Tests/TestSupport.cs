using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Gateway.Protocol.WebSockets;

namespace Gateway.Protocol.Tests;

/// <summary>How the payload length of a hand-built frame is encoded on the wire.</summary>
public enum LengthEncoding
{
    /// <summary>The minimal encoding for the payload length.</summary>
    Auto,
    Bits7,
    Bits16,
    Bits64,
}

/// <summary>Builds client (masked) and server (unmasked) frames byte by byte, independent of FrameWriter.</summary>
public static class Frames
{
    public static readonly byte[] DefaultMask = [0x37, 0xFA, 0x21, 0x3D];

    /// <summary>
    /// A frame with the given bits. <paramref name="opcode"/> is a raw 4-bit value so reserved opcodes can be
    /// built. <paramref name="mask"/> null means an unmasked frame. <paramref name="declaredLength"/> overrides
    /// the length written in the header (the payload bytes that follow are still <paramref name="payload"/>).
    /// </summary>
    public static byte[] Build(
        bool fin,
        int opcode,
        ReadOnlySpan<byte> payload,
        byte[]? mask,
        int rsv = 0,
        LengthEncoding encoding = LengthEncoding.Auto,
        ulong? declaredLength = null)
    {
        ulong length = declaredLength ?? (ulong)payload.Length;
        if (encoding == LengthEncoding.Auto)
            encoding = length <= 125 ? LengthEncoding.Bits7 : length <= 0xFFFF ? LengthEncoding.Bits16 : LengthEncoding.Bits64;

        var bytes = new List<byte>(payload.Length + 14)
        {
            (byte)((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0F)),
        };
        byte maskBit = mask is null ? (byte)0 : (byte)0x80;
        switch (encoding)
        {
            case LengthEncoding.Bits7:
                if (length > 125) throw new ArgumentException("7-bit length must be <= 125");
                bytes.Add((byte)(maskBit | (byte)length));
                break;
            case LengthEncoding.Bits16:
                if (length > 0xFFFF) throw new ArgumentException("16-bit length must be <= 65535");
                bytes.Add((byte)(maskBit | 126));
                bytes.Add((byte)(length >> 8));
                bytes.Add((byte)length);
                break;
            case LengthEncoding.Bits64:
                bytes.Add((byte)(maskBit | 127));
                for (int shift = 56; shift >= 0; shift -= 8) bytes.Add((byte)(length >> shift));
                break;
        }
        if (mask is not null)
        {
            if (mask.Length != 4) throw new ArgumentException("mask must be 4 bytes");
            bytes.AddRange(mask);
            for (int i = 0; i < payload.Length; i++) bytes.Add((byte)(payload[i] ^ mask[i % 4]));
        }
        else
        {
            bytes.AddRange(payload.ToArray());
        }
        return bytes.ToArray();
    }

    public static byte[] Masked(bool fin, Opcode opcode, ReadOnlySpan<byte> payload, byte[]? mask = null, int rsv = 0, LengthEncoding encoding = LengthEncoding.Auto)
        => Build(fin, (int)opcode, payload, mask ?? DefaultMask, rsv, encoding);

    public static byte[] Text(string text, bool fin = true) => Masked(fin, Opcode.Text, Encoding.UTF8.GetBytes(text));

    public static byte[] Close(ushort code, ReadOnlySpan<byte> reason)
    {
        var payload = new byte[2 + reason.Length];
        BinaryPrimitives.WriteUInt16BigEndian(payload, code);
        reason.CopyTo(payload.AsSpan(2));
        return Masked(true, Opcode.Close, payload);
    }

    public static byte[] Concat(params byte[][] parts)
    {
        var all = new byte[parts.Sum(p => p.Length)];
        int pos = 0;
        foreach (var p in parts)
        {
            p.CopyTo(all, pos);
            pos += p.Length;
        }
        return all;
    }

    /// <summary>Deterministic pseudo-random bytes.</summary>
    public static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}

/// <summary>A node of a multi-segment <see cref="ReadOnlySequence{T}"/>.</summary>
public sealed class BufferSegment : ReadOnlySequenceSegment<byte>
{
    public BufferSegment(ReadOnlyMemory<byte> memory) => Memory = memory;

    public BufferSegment Append(ReadOnlyMemory<byte> memory)
    {
        var next = new BufferSegment(memory) { RunningIndex = RunningIndex + Memory.Length };
        Next = next;
        return next;
    }

    /// <summary>A sequence made of one segment per part (each part is copied, so the caller's arrays stay intact).</summary>
    public static ReadOnlySequence<byte> Create(params byte[][] parts)
    {
        if (parts.Length == 0) return ReadOnlySequence<byte>.Empty;
        var first = new BufferSegment(parts[0].ToArray());
        var last = first;
        for (int i = 1; i < parts.Length; i++) last = last.Append(parts[i].ToArray());
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Two segments: data[..split] and data[split..].</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, int split) => Create(data[..split], data[split..]);
}

/// <summary>One event returned by <see cref="MessageReader.Read"/>, with its data copied out.</summary>
public sealed record ReadEvent(FrameEvent Kind, Opcode Opcode, ushort Code, byte[] Data)
{
    public bool Equals(ReadEvent? other) =>
        other is not null && Kind == other.Kind && Opcode == other.Opcode && Code == other.Code && Data.AsSpan().SequenceEqual(other.Data);

    public override int GetHashCode() => HashCode.Combine(Kind, Opcode, Code, Data.Length);

    public override string ToString() =>
        $"{Kind} op={Opcode} code={Code} len={Data.Length} data={(Data.Length <= 32 ? Convert.ToHexString(Data) : Convert.ToHexString(Data, 0, 32) + "...")}";

    public static ReadEvent Message(Opcode opcode, byte[] data) => new(FrameEvent.Message, opcode, 0, data);
    public static ReadEvent Ping(byte[] data) => new(FrameEvent.Ping, default, 0, data);
    public static ReadEvent Pong(byte[] data) => new(FrameEvent.Pong, default, 0, data);
    public static ReadEvent Close(ushort code, byte[] reason) => new(FrameEvent.Close, default, code, reason);
    public static ReadEvent Error(ushort code) => new(FrameEvent.Error, default, code, []);
}

public static class ReaderDriver
{
    /// <summary>
    /// Calls Read until it needs more data or fails, copying each event's data out (and releasing messages)
    /// before the next call. Stops after an Error.
    /// </summary>
    public static List<ReadEvent> Drain(MessageReader reader, ref ReadOnlySequence<byte> buffer, List<ReadEvent>? into = null)
    {
        var events = into ?? new List<ReadEvent>();
        for (int guard = 0; guard < 10_000; guard++)
        {
            var kind = reader.Read(ref buffer);
            switch (kind)
            {
                case FrameEvent.NeedMoreData:
                    return events;
                case FrameEvent.Message:
                    events.Add(ReadEvent.Message(reader.MessageOpcode, reader.Payload.ToArray()));
                    reader.ReleaseMessage();
                    break;
                case FrameEvent.Ping:
                    events.Add(ReadEvent.Ping(reader.ControlPayload.ToArray()));
                    break;
                case FrameEvent.Pong:
                    events.Add(ReadEvent.Pong(reader.ControlPayload.ToArray()));
                    break;
                case FrameEvent.Close:
                    events.Add(ReadEvent.Close(reader.CloseCode, reader.CloseReason.ToArray()));
                    break;
                case FrameEvent.Error:
                    events.Add(ReadEvent.Error(reader.ErrorCloseCode));
                    return events;
            }
        }
        throw new InvalidOperationException("reader did not stop");
    }

    /// <summary>Feeds all bytes at once (on a private copy, since the reader unmasks in place).</summary>
    public static List<ReadEvent> ReadWhole(byte[] data, long maxMessageBytes = 1 << 20, bool requireMask = true)
    {
        using var reader = new MessageReader(maxMessageBytes, requireMask);
        var buffer = new ReadOnlySequence<byte>(data.ToArray());
        var events = Drain(reader, ref buffer);
        if (events.Count == 0 || events[^1].Kind != FrameEvent.Error)
            Assert.Equal(0, buffer.Length); // everything consumed
        return events;
    }

    /// <summary>
    /// Feeds the chunks one Read cycle at a time, the way a PipeReader does: whatever the reader did not
    /// consume is carried over and the next chunk is appended to it.
    /// </summary>
    public static List<ReadEvent> ReadIncrementally(IEnumerable<byte[]> chunks, long maxMessageBytes = 1 << 20, bool requireMask = true)
    {
        using var reader = new MessageReader(maxMessageBytes, requireMask);
        var events = new List<ReadEvent>();
        byte[] carry = [];
        foreach (var chunk in chunks)
        {
            var buffer = new ReadOnlySequence<byte>(Frames.Concat(carry, chunk));
            Drain(reader, ref buffer, events);
            if (events.Count > 0 && events[^1].Kind == FrameEvent.Error) return events;
            carry = buffer.ToArray();
        }
        Assert.Empty(carry); // a complete input leaves nothing unconsumed
        return events;
    }
}
