using System.Buffers;
using Gateway.Protocol.WebSockets;

namespace Gateway.Protocol.Tests;

public class FrameHeaderTests
{
    private static readonly byte[] Mask = [0x11, 0x22, 0x33, 0x44];
    private const uint MaskValue = 0x44332211; // wire order read little-endian

    public static TheoryData<long, LengthEncoding, int> Lengths() => new()
    {
        { 0, LengthEncoding.Bits7, 6 },
        { 1, LengthEncoding.Bits7, 6 },
        { 125, LengthEncoding.Bits7, 6 },
        { 126, LengthEncoding.Bits16, 8 },
        { 127, LengthEncoding.Bits16, 8 },
        { 65535, LengthEncoding.Bits16, 8 },
        { 65536, LengthEncoding.Bits64, 14 },
        { 100000, LengthEncoding.Bits64, 14 },
        { 5, LengthEncoding.Bits16, 8 },        // non-minimal encodings still decode
        { 5, LengthEncoding.Bits64, 14 },
        { 1L << 40, LengthEncoding.Bits64, 14 },
        { long.MaxValue, LengthEncoding.Bits64, 14 },
    };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Reads_every_length_encoding(long length, LengthEncoding encoding, int headerLength)
    {
        var bytes = Frames.Build(true, (int)Opcode.Binary, [], Mask, encoding: encoding, declaredLength: (ulong)length);
        Assert.Equal(headerLength, bytes.Length);

        Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(bytes), out var h));
        Assert.True(h.Fin);
        Assert.Equal(0, h.Rsv);
        Assert.Equal(Opcode.Binary, h.Opcode);
        Assert.True(h.Masked);
        Assert.Equal(MaskValue, h.MaskKey);
        Assert.Equal(length, h.PayloadLength);
        Assert.Equal(headerLength, h.HeaderLength);
        Assert.False(h.IsControl);
        Assert.Null(h.Validate(requireMask: true));

        // Every proper prefix needs more data; every two-segment split reads the same header.
        for (int i = 0; i < bytes.Length; i++)
            Assert.False(FrameHeader.TryRead(new ReadOnlySequence<byte>(bytes, 0, i), out _), $"prefix {i}");
        for (int i = 0; i <= bytes.Length; i++)
        {
            Assert.True(FrameHeader.TryRead(BufferSegment.Split(bytes, i), out var s), $"split {i}");
            Assert.Equal(length, s.PayloadLength);
            Assert.Equal(MaskValue, s.MaskKey);
            Assert.Equal(headerLength, s.HeaderLength);
        }
    }

    [Fact]
    public void Reads_a_header_followed_by_payload_and_spread_over_many_segments()
    {
        var bytes = Frames.Build(false, (int)Opcode.Text, new byte[300], Mask, rsv: 0);
        var seq = BufferSegment.Create(bytes[..1], bytes[1..2], bytes[2..3], bytes[3..5], bytes[5..]);
        Assert.True(FrameHeader.TryRead(seq, out var h));
        Assert.False(h.Fin);
        Assert.Equal(Opcode.Text, h.Opcode);
        Assert.Equal(300, h.PayloadLength);
        Assert.Equal(8, h.HeaderLength);
        Assert.Equal(MaskValue, h.MaskKey);
    }

    [Fact]
    public void Unmasked_header_has_no_key()
    {
        var bytes = Frames.Build(true, (int)Opcode.Ping, "hi"u8, mask: null);
        Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(bytes), out var h));
        Assert.False(h.Masked);
        Assert.Equal(0u, h.MaskKey);
        Assert.Equal(2, h.HeaderLength);
        Assert.True(h.IsControl);
        Assert.NotNull(h.Validate(requireMask: true));
        Assert.Null(h.Validate(requireMask: false));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(7)]
    public void Rsv_bits_are_reported_and_rejected(int rsv)
    {
        var bytes = Frames.Build(true, (int)Opcode.Text, "x"u8, Mask, rsv: rsv);
        Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(bytes), out var h));
        Assert.Equal(rsv, h.Rsv);
        Assert.Equal(Opcode.Text, h.Opcode);
        Assert.NotNull(h.Validate(true));
    }

    [Theory]
    [InlineData(3)] [InlineData(4)] [InlineData(5)] [InlineData(6)] [InlineData(7)]
    [InlineData(11)] [InlineData(12)] [InlineData(13)] [InlineData(14)] [InlineData(15)]
    public void Reserved_opcodes_are_rejected(int opcode)
    {
        var bytes = Frames.Build(true, opcode, [], Mask);
        Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(bytes), out var h));
        Assert.Equal(opcode, (int)h.Opcode);
        Assert.NotNull(h.Validate(true));
    }

    [Theory]
    [InlineData(0)] [InlineData(1)] [InlineData(2)] [InlineData(8)] [InlineData(9)] [InlineData(10)]
    public void Defined_opcodes_are_accepted(int opcode)
    {
        var bytes = Frames.Build(true, opcode, [], Mask);
        Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(bytes), out var h));
        Assert.Null(h.Validate(true));
        Assert.Equal(opcode >= 8, h.IsControl);
    }

    [Fact]
    public void Length_with_the_top_bit_set_is_rejected()
    {
        var bytes = Frames.Build(true, (int)Opcode.Binary, [], Mask, encoding: LengthEncoding.Bits64, declaredLength: 0x8000_0000_0000_0000UL);
        Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(bytes), out var h));
        Assert.NotNull(h.Validate(true));
    }

    [Theory]
    [InlineData(Opcode.Ping, 126, true)]
    [InlineData(Opcode.Pong, 65535, true)]
    [InlineData(Opcode.Close, 126, true)]
    [InlineData(Opcode.Ping, 5, false)]
    [InlineData(Opcode.Close, 0, false)]
    public void Control_frames_must_be_small_and_unfragmented(Opcode opcode, int length, bool fin)
    {
        var bytes = Frames.Build(fin, (int)opcode, [], Mask, declaredLength: (ulong)length);
        Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(bytes), out var h));
        Assert.NotNull(h.Validate(true));
    }

    [Fact]
    public void Control_frame_of_125_bytes_is_accepted()
    {
        var bytes = Frames.Build(true, (int)Opcode.Ping, new byte[125], Mask);
        Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(bytes), out var h));
        Assert.Null(h.Validate(true));
        Assert.Equal(125, h.PayloadLength);
    }

    [Fact]
    public void Fewer_than_two_bytes_need_more_data()
    {
        Assert.False(FrameHeader.TryRead(ReadOnlySequence<byte>.Empty, out _));
        Assert.False(FrameHeader.TryRead(new ReadOnlySequence<byte>([0x81]), out _));
    }
}
