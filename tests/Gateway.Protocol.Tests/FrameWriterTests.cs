using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;
using Gateway.Protocol.WebSockets;

namespace Gateway.Protocol.Tests;

public class FrameWriterTests
{
    [Theory]
    [InlineData(0L, 2)]
    [InlineData(1L, 2)]
    [InlineData(125L, 2)]
    [InlineData(126L, 4)]
    [InlineData(65535L, 4)]
    [InlineData(65536L, 10)]
    [InlineData(1L << 32, 10)]
    public void Header_size_follows_the_length_class(long length, int expected)
    {
        Assert.Equal(expected, FrameWriter.HeaderSize(length));
        Span<byte> buf = stackalloc byte[FrameHeader.MaxHeaderLength];
        Assert.Equal(expected, FrameWriter.WriteHeader(buf, Opcode.Binary, length));

        Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(buf[..expected].ToArray()), out var h));
        Assert.Equal(length, h.PayloadLength);
        Assert.Equal(expected, h.HeaderLength);
        Assert.False(h.Masked);
    }

    [Theory]
    [InlineData(Opcode.Text, true)]
    [InlineData(Opcode.Binary, false)]
    [InlineData(Opcode.Continuation, true)]
    [InlineData(Opcode.Ping, true)]
    public void Header_bytes_carry_fin_and_opcode(Opcode opcode, bool fin)
    {
        Span<byte> buf = stackalloc byte[FrameHeader.MaxHeaderLength];
        FrameWriter.WriteHeader(buf, opcode, 3, fin);
        Assert.Equal((byte)((fin ? 0x80 : 0) | (int)opcode), buf[0]);
        Assert.Equal(3, buf[1]); // no mask bit from a server
    }

    public static TheoryData<Opcode, int> FrameCases()
    {
        var d = new TheoryData<Opcode, int>();
        foreach (int n in new[] { 0, 1, 125, 126, 65535, 65536, 70000 }) d.Add(Opcode.Binary, n);
        d.Add(Opcode.Text, 10);
        d.Add(Opcode.Ping, 125);
        d.Add(Opcode.Pong, 0);
        return d;
    }

    [Theory]
    [MemberData(nameof(FrameCases))]
    public void WriteFrame_round_trips_through_FrameHeader(Opcode opcode, int length)
    {
        var payload = Frames.RandomBytes(length, length + 1);
        foreach (bool asSequence in new[] { false, true })
        {
            // A small segment size on the writer side forces the payload to be written in pieces.
            var output = new ArrayBufferWriter<byte>(16);
            if (asSequence)
                FrameWriter.WriteFrame(output, opcode, BufferSegment.Split(payload, length / 3));
            else
                FrameWriter.WriteFrame(output, opcode, payload.AsSpan());

            var written = output.WrittenMemory.ToArray();
            Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(written), out var h));
            Assert.True(h.Fin);
            Assert.Equal(0, h.Rsv);
            Assert.Equal(opcode, h.Opcode);
            Assert.False(h.Masked);
            Assert.Equal(length, h.PayloadLength);
            Assert.Equal(FrameWriter.HeaderSize(length), h.HeaderLength);
            Assert.Equal(h.HeaderLength + length, written.Length);
            Assert.True(payload.AsSpan().SequenceEqual(written.AsSpan(h.HeaderLength)));
            Assert.Null(h.Validate(requireMask: false));
        }
    }

    [Fact]
    public void Written_frames_are_read_back_by_MessageReader_without_masking()
    {
        var output = new ArrayBufferWriter<byte>();
        var text = Encoding.UTF8.GetBytes("κόσμε");
        var big = Frames.RandomBytes(70000, 9);
        FrameWriter.WriteFrame(output, Opcode.Text, text);
        FrameWriter.WriteFrame(output, Opcode.Ping, "p"u8);
        FrameWriter.WriteFrame(output, Opcode.Binary, big);
        FrameWriter.WriteClose(output, 1001, "bye"u8);
        FrameWriter.WriteEmptyClose(output);

        Assert.Equal(
            [
                ReadEvent.Message(Opcode.Text, text),
                ReadEvent.Ping("p"u8.ToArray()),
                ReadEvent.Message(Opcode.Binary, big),
                ReadEvent.Close(1001, "bye"u8.ToArray()),
                ReadEvent.Close(0, []),
            ],
            ReaderDriver.ReadWhole(output.WrittenMemory.ToArray(), requireMask: false));
    }

    [Fact]
    public void WriteEmptyClose_is_two_bytes()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameWriter.WriteEmptyClose(output);
        Assert.Equal(new byte[] { 0x88, 0x00 }, output.WrittenMemory.ToArray());
    }

    [Fact]
    public void WriteClose_with_a_short_reason_is_exact()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameWriter.WriteClose(output, 1000, "ok"u8);
        Assert.Equal(new byte[] { 0x88, 0x04, 0x03, 0xE8, (byte)'o', (byte)'k' }, output.WrittenMemory.ToArray());
    }

    [Theory]
    [InlineData("é", 100)]       // 2-byte characters: 200 bytes
    [InlineData("€", 67)]        // 3-byte characters: 201 bytes
    [InlineData("😀", 50)]       // 4-byte characters: 200 bytes
    [InlineData("aé", 67)]       // 3 bytes per unit, the cut lands mid-character
    [InlineData("a", 200)]
    [InlineData("ab€", 40)]
    public void WriteClose_cuts_a_long_reason_to_125_bytes_on_a_character_boundary(string unit, int repeat)
    {
        var reason = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(unit, repeat)));
        Assert.True(reason.Length >= 200);
        var output = new ArrayBufferWriter<byte>();
        FrameWriter.WriteClose(output, 1008, reason);
        var frame = output.WrittenMemory.ToArray();

        Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(frame), out var h));
        Assert.Equal(Opcode.Close, h.Opcode);
        Assert.True(h.PayloadLength <= 125, $"payload {h.PayloadLength}");
        Assert.Equal(2 + h.PayloadLength, frame.Length);
        Assert.Equal(1008, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(2)));

        var cut = frame.AsSpan(4);
        Assert.True(Utf8.IsValid(cut), Convert.ToHexString(cut));
        Assert.True(reason.AsSpan().StartsWith(cut));
        Assert.True(cut.Length > 123 - 4, $"cut too much: {cut.Length}"); // at most one character dropped

        // And a reader accepts it.
        Assert.Equal([ReadEvent.Close(1008, cut.ToArray())], ReaderDriver.ReadWhole(frame, requireMask: false));
    }

    [Fact]
    public void WriteClose_keeps_a_reason_of_exactly_123_bytes()
    {
        var reason = Encoding.UTF8.GetBytes(new string('x', 120) + "€");
        Assert.Equal(123, reason.Length);
        var output = new ArrayBufferWriter<byte>();
        FrameWriter.WriteClose(output, 1000, reason);
        var frame = output.WrittenMemory.ToArray();
        Assert.Equal(127, frame.Length);
        Assert.Equal(125, frame[1]);
        Assert.True(reason.AsSpan().SequenceEqual(frame.AsSpan(4)));
    }
}
