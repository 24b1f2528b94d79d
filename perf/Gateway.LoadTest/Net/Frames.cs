using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Gateway.LoadTest.Net;

/// <summary>RFC 6455 client frames: always masked.</summary>
public static class Frames
{
    public const byte OpContinuation = 0x0, OpText = 0x1, OpBinary = 0x2, OpClose = 0x8, OpPing = 0x9, OpPong = 0xA;

    public static int HeaderLength(long payloadLength) => payloadLength < 126 ? 2 : payloadLength <= 0xFFFF ? 4 : 10;

    /// <summary>
    /// Builds a complete masked frame (FIN set) with a random masking key; returns the frame and where the
    /// payload starts in it, so that bytes can later be patched in place with <see cref="PatchMasked"/>.
    /// </summary>
    public static byte[] BuildMasked(byte opcode, ReadOnlySpan<byte> payload, out int payloadOffset)
    {
        int header = HeaderLength(payload.Length);
        var frame = new byte[header + 4 + payload.Length];
        frame[0] = (byte)(0x80 | opcode);
        if (payload.Length < 126) frame[1] = (byte)(0x80 | payload.Length);
        else if (payload.Length <= 0xFFFF)
        {
            frame[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
        }
        else
        {
            frame[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
        }
        var mask = frame.AsSpan(header, 4);
        RandomNumberGenerator.Fill(mask);
        payloadOffset = header + 4;
        payload.CopyTo(frame.AsSpan(payloadOffset));
        Mask(frame.AsSpan(payloadOffset), mask, 0);
        return frame;
    }

    /// <summary>XORs <paramref name="data"/> with the key, <paramref name="position"/> being data[0]'s offset in the payload.</summary>
    public static void Mask(Span<byte> data, ReadOnlySpan<byte> key, int position)
    {
        Span<byte> rotated = stackalloc byte[4];
        for (int i = 0; i < 4; i++) rotated[i] = key[(position + i) & 3];
        uint k32 = MemoryMarshal.Read<uint>(rotated);
        int i0 = 0;
        if (Vector.IsHardwareAccelerated && data.Length >= Vector<byte>.Count)
        {
            var kv = new Vector<uint>(k32);
            var words = MemoryMarshal.Cast<byte, Vector<uint>>(data);
            for (int w = 0; w < words.Length; w++) words[w] ^= kv;
            i0 = words.Length * Vector<byte>.Count;
        }
        for (int i = i0; i < data.Length; i++) data[i] ^= rotated[i & 3];
    }

    /// <summary>Overwrites payload bytes [position, position+value.Length) of a masked frame.</summary>
    public static void PatchMasked(byte[] frame, int payloadOffset, int position, ReadOnlySpan<byte> value)
    {
        var key = frame.AsSpan(payloadOffset - 4, 4);
        var target = frame.AsSpan(payloadOffset + position, value.Length);
        for (int i = 0; i < value.Length; i++) target[i] = (byte)(value[i] ^ key[(position + i) & 3]);
    }
}
