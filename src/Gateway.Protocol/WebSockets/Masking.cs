using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Gateway.Protocol.WebSockets;

/// <summary>XOR masking of client payloads (RFC 6455 §5.3), vectorized.</summary>
public static class Masking
{
    /// <summary>
    /// Unmasks <paramref name="data"/> in place. <paramref name="maskKey"/> holds the four key bytes in
    /// wire order (first byte in the lowest address, i.e. read little-endian); <paramref name="offset"/> is
    /// the position of data[0] within the frame's payload, so a payload can be unmasked piece by piece.
    /// </summary>
    public static void Apply(Span<byte> data, uint maskKey, long offset)
    {
        if (data.IsEmpty) return;
        int shift = (int)(offset & 3);
        // Rotate so that key byte (offset % 4) lines up with data[0].
        uint key = BitOperations.RotateRight(maskKey, shift * 8);
        int i = 0;

        if (Vector256.IsHardwareAccelerated && data.Length >= Vector256<byte>.Count)
        {
            var k = Vector256.Create(key).AsByte();
            ref byte start = ref MemoryMarshal.GetReference(data);
            int last = data.Length - Vector256<byte>.Count;
            for (; i <= last; i += Vector256<byte>.Count)
            {
                var v = Vector256.LoadUnsafe(ref start, (nuint)i);
                (v ^ k).StoreUnsafe(ref start, (nuint)i);
            }
        }
        else if (Vector128.IsHardwareAccelerated && data.Length >= Vector128<byte>.Count)
        {
            var k = Vector128.Create(key).AsByte();
            ref byte start = ref MemoryMarshal.GetReference(data);
            int last = data.Length - Vector128<byte>.Count;
            for (; i <= last; i += Vector128<byte>.Count)
            {
                var v = Vector128.LoadUnsafe(ref start, (nuint)i);
                (v ^ k).StoreUnsafe(ref start, (nuint)i);
            }
        }

        // Vector widths are multiples of 4, so the key is still aligned at i.
        for (; i + 4 <= data.Length; i += 4)
        {
            ref byte p = ref data[i];
            Unsafe.WriteUnaligned(ref p, Unsafe.ReadUnaligned<uint>(ref p) ^ (BitConverter.IsLittleEndian ? key : BinaryPrimitives.ReverseEndianness(key)));
        }
        for (; i < data.Length; i++)
        {
            data[i] ^= (byte)(key >> ((i & 3) * 8));
        }
    }
}
