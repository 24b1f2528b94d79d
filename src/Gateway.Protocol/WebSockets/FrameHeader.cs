using System.Buffers;
using System.Buffers.Binary;

namespace Gateway.Protocol.WebSockets;

/// <summary>A parsed frame header (RFC 6455 §5.2).</summary>
public readonly struct FrameHeader
{
    public FrameHeader(bool fin, byte rsv, Opcode opcode, bool masked, uint maskKey, long payloadLength, int headerLength)
    {
        Fin = fin; Rsv = rsv; Opcode = opcode; Masked = masked; MaskKey = maskKey;
        PayloadLength = payloadLength; HeaderLength = headerLength;
    }

    public bool Fin { get; }
    /// <summary>The three reserved bits, shifted down (0–7).</summary>
    public byte Rsv { get; }
    public Opcode Opcode { get; }
    public bool Masked { get; }
    /// <summary>The masking key's four bytes in wire order, read little-endian.</summary>
    public uint MaskKey { get; }
    public long PayloadLength { get; }
    public int HeaderLength { get; }
    public bool IsControl => ((byte)Opcode & 0x8) != 0;

    public const int MaxHeaderLength = 14;

    /// <summary>
    /// Reads one header from the start of <paramref name="buffer"/>. Returns false when more bytes are
    /// needed. Structural checks that need no connection state are done by <see cref="Validate"/>.
    /// </summary>
    public static bool TryRead(in ReadOnlySequence<byte> buffer, out FrameHeader header)
    {
        header = default;
        if (buffer.Length < 2) return false;

        Span<byte> scratch = stackalloc byte[MaxHeaderLength];
        scoped ReadOnlySpan<byte> bytes;
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= MaxHeaderLength || first.Length == buffer.Length)
        {
            bytes = first;
        }
        else
        {
            int n = (int)Math.Min(buffer.Length, MaxHeaderLength);
            buffer.Slice(0, n).CopyTo(scratch);
            bytes = scratch.Slice(0, n);
        }

        byte b0 = bytes[0], b1 = bytes[1];
        bool masked = (b1 & 0x80) != 0;
        int len7 = b1 & 0x7F;
        int headerLength = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
        if (bytes.Length < headerLength) return false;

        long payloadLength;
        int pos = 2;
        if (len7 == 126) { payloadLength = BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(2)); pos = 4; }
        else if (len7 == 127) { payloadLength = (long)BinaryPrimitives.ReadUInt64BigEndian(bytes.Slice(2)); pos = 10; }
        else payloadLength = len7;

        uint mask = masked ? BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(pos)) : 0;
        header = new FrameHeader((b0 & 0x80) != 0, (byte)((b0 >> 4) & 0x7), (Opcode)(b0 & 0x0F), masked, mask, payloadLength, headerLength);
        return true;
    }

    /// <summary>
    /// The stateless rules of §5.2/§5.5: reserved bits, reserved opcodes, masking, the 64-bit length's
    /// top bit, control frame size and fragmentation. Returns null when the header is acceptable.
    /// </summary>
    public string? Validate(bool requireMask) => Validate(requireMask, 0);

    /// <summary>As <see cref="Validate(bool)"/>, accepting the reserved bits in <paramref name="allowedRsv"/> (4 = RSV1, once permessage-deflate is negotiated).</summary>
    public string? Validate(bool requireMask, byte allowedRsv)
    {
        if ((Rsv & ~allowedRsv) != 0) return "reserved bits set without a negotiated extension";
        switch (Opcode)
        {
            case Opcode.Continuation: case Opcode.Text: case Opcode.Binary:
            case Opcode.Close: case Opcode.Ping: case Opcode.Pong:
                break;
            default:
                return "reserved opcode";
        }
        if (requireMask && !Masked) return "client frames must be masked";
        // A 64-bit length read as unsigned with its top bit set comes out negative here.
        if (PayloadLength < 0) return "payload length has its most significant bit set";
        if (IsControl)
        {
            if (PayloadLength > 125) return "control frame payload over 125 bytes";
            if (!Fin) return "fragmented control frame";
        }
        return null;
    }
}
