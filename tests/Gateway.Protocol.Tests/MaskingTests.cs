using Gateway.Protocol.WebSockets;

namespace Gateway.Protocol.Tests;

public class MaskingTests
{
    private static void Reference(Span<byte> data, byte[] key, long offset)
    {
        for (int i = 0; i < data.Length; i++) data[i] ^= key[(int)((offset + i) % 4)];
    }

    private static uint KeyToUInt(byte[] key) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(key);

    public static TheoryData<long> Offsets() => new() { 0, 1, 2, 3, 4, 5, 6, 7, 1_000_001, 4L * int.MaxValue + 3 };

    [Theory]
    [MemberData(nameof(Offsets))]
    public void Matches_the_naive_reference_for_every_length_up_to_300(long offset)
    {
        var rng = new Random(20240601 + (int)(offset % 1000));
        for (int length = 0; length <= 300; length++)
        {
            var key = new byte[4];
            rng.NextBytes(key);
            var data = new byte[length];
            rng.NextBytes(data);

            var expected = data.ToArray();
            Reference(expected, key, offset);
            var actual = data.ToArray();
            Masking.Apply(actual, KeyToUInt(key), offset);

            Assert.True(expected.AsSpan().SequenceEqual(actual), $"length {length}, offset {offset}, key {Convert.ToHexString(key)}");
        }
    }

    [Fact]
    public void Works_on_unaligned_slices_of_a_larger_buffer()
    {
        var rng = new Random(99);
        var key = new byte[] { 0xA1, 0xB2, 0xC3, 0xD4 };
        var backing = new byte[400];
        rng.NextBytes(backing);
        for (int start = 0; start < 8; start++)
        {
            for (int length = 0; length <= 300; length += 7)
            {
                var buffer = backing.ToArray();
                var expected = backing.ToArray();
                Reference(expected.AsSpan(start, length), key, start);
                Masking.Apply(buffer.AsSpan(start, length), KeyToUInt(key), start);
                // Bytes outside the slice are untouched, bytes inside match the reference.
                Assert.True(expected.AsSpan().SequenceEqual(buffer), $"start {start}, length {length}");
            }
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(6)]
    public void Applying_twice_restores_the_data(long offset)
    {
        var rng = new Random(7);
        foreach (int length in new[] { 0, 1, 3, 4, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 1000 })
        {
            var key = new byte[4];
            rng.NextBytes(key);
            var original = new byte[length];
            rng.NextBytes(original);
            var data = original.ToArray();
            Masking.Apply(data, KeyToUInt(key), offset);
            if (length >= 8 && key.Any(k => k != 0)) Assert.False(original.AsSpan().SequenceEqual(data)); // it did something
            Masking.Apply(data, KeyToUInt(key), offset);
            Assert.True(original.AsSpan().SequenceEqual(data), $"length {length}");
        }
    }

    [Fact]
    public void Zero_key_is_the_identity()
    {
        var data = Frames.RandomBytes(100, 3);
        var copy = data.ToArray();
        Masking.Apply(copy, 0, 5);
        Assert.Equal(data, copy);
    }

    [Fact]
    public void Piecewise_application_with_running_offset_equals_whole_application()
    {
        var rng = new Random(31337);
        for (int round = 0; round < 200; round++)
        {
            var key = new byte[4];
            rng.NextBytes(key);
            int length = rng.Next(0, 600);
            var original = new byte[length];
            rng.NextBytes(original);

            var whole = original.ToArray();
            Masking.Apply(whole, KeyToUInt(key), 0);

            var pieces = original.ToArray();
            int pos = 0;
            while (pos < length)
            {
                int n = Math.Min(length - pos, rng.Next(1, 80));
                Masking.Apply(pieces.AsSpan(pos, n), KeyToUInt(key), pos);
                pos += n;
            }
            Assert.True(whole.AsSpan().SequenceEqual(pieces), $"round {round}");
        }
    }

    [Fact]
    public void Piecewise_at_every_single_split_point_equals_whole()
    {
        var key = new byte[] { 0x01, 0x80, 0x7F, 0xFE };
        var original = Frames.RandomBytes(130, 11);
        var whole = original.ToArray();
        Masking.Apply(whole, KeyToUInt(key), 0);
        for (int split = 0; split <= original.Length; split++)
        {
            var pieces = original.ToArray();
            Masking.Apply(pieces.AsSpan(0, split), KeyToUInt(key), 0);
            Masking.Apply(pieces.AsSpan(split), KeyToUInt(key), split);
            Assert.True(whole.AsSpan().SequenceEqual(pieces), $"split {split}");
        }
    }

    [Fact]
    public void Key_bytes_are_applied_in_wire_order()
    {
        // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d is 7f 9f 4d 51 58.
        var data = Convert.FromHexString("7F9F4D5158");
        Masking.Apply(data, KeyToUInt([0x37, 0xFA, 0x21, 0x3D]), 0);
        Assert.Equal("Hello"u8.ToArray(), data);
    }
}
