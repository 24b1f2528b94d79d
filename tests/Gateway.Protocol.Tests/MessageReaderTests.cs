using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Gateway.Protocol.WebSockets;

namespace Gateway.Protocol.Tests;

public class MessageReaderTests
{
    private static readonly byte[] Mask2 = [0xA5, 0x00, 0xFF, 0x5A];

    private static byte[] TextPayload(int length)
    {
        // Valid UTF-8 of exactly `length` bytes with some multi-byte characters in it.
        var bytes = new byte[length];
        for (int i = 0; i < length; i++) bytes[i] = (byte)('a' + i % 26);
        for (int i = 0; i + 3 <= length; i += 97) { bytes[i] = 0xE2; bytes[i + 1] = 0x82; bytes[i + 2] = 0xAC; } // €
        Assert.True(System.Text.Unicode.Utf8.IsValid(bytes));
        return bytes;
    }

    private static FrameEvent ReadOnce(MessageReader reader, byte[] data, out ReadOnlySequence<byte> rest)
    {
        var buffer = new ReadOnlySequence<byte>(data.ToArray());
        var e = reader.Read(ref buffer);
        rest = buffer;
        return e;
    }

    private static void AssertSingleError(byte[] data, ushort code, long max = 1 << 20, bool requireMask = true)
    {
        var events = ReaderDriver.ReadWhole(data, max, requireMask);
        Assert.Equal([ReadEvent.Error(code)], events);
    }

    // ---------------------------------------------------------------- payload sizes

    public static TheoryData<int, Opcode> Sizes()
    {
        var d = new TheoryData<int, Opcode>();
        foreach (int n in new[] { 0, 1, 125, 126, 127, 65535, 65536, 100000 })
        {
            d.Add(n, Opcode.Text);
            d.Add(n, Opcode.Binary);
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Decodes_payloads_of_every_length_class(int length, Opcode opcode)
    {
        var payload = opcode == Opcode.Text ? TextPayload(length) : Frames.RandomBytes(length, length);
        var frame = Frames.Masked(true, opcode, payload);

        Assert.Equal([ReadEvent.Message(opcode, payload)], ReaderDriver.ReadWhole(frame));
        // Header first, payload later: the streaming path.
        int header = FrameWriter.HeaderSize(length) + 4;
        Assert.Equal([ReadEvent.Message(opcode, payload)], ReaderDriver.ReadIncrementally([frame[..header], frame[header..]]));
    }

    [Theory]
    [InlineData(0, LengthEncoding.Bits16)]
    [InlineData(5, LengthEncoding.Bits16)]
    [InlineData(5, LengthEncoding.Bits64)]
    [InlineData(300, LengthEncoding.Bits64)]
    public void Decodes_non_minimal_length_encodings(int length, LengthEncoding encoding)
    {
        var payload = Frames.RandomBytes(length, 5);
        var frame = Frames.Masked(true, Opcode.Binary, payload, encoding: encoding);
        Assert.Equal([ReadEvent.Message(Opcode.Binary, payload)], ReaderDriver.ReadWhole(frame));
    }

    [Fact]
    public void Unmasks_with_the_frames_own_key()
    {
        var payload = "Hello, world"u8.ToArray();
        var a = Frames.Masked(true, Opcode.Text, payload, Mask2);
        var b = Frames.Masked(true, Opcode.Binary, payload, [0, 0, 0, 0]);
        Assert.Equal(
            [ReadEvent.Message(Opcode.Text, payload), ReadEvent.Message(Opcode.Binary, payload)],
            ReaderDriver.ReadWhole(Frames.Concat(a, b)));
    }

    [Fact]
    public void Reads_several_frames_from_one_buffer()
    {
        var data = Frames.Concat(
            Frames.Text("one"),
            Frames.Masked(true, Opcode.Binary, [1, 2, 3]),
            Frames.Masked(true, Opcode.Ping, "p"u8),
            Frames.Text("two"),
            Frames.Close(1000, "bye"u8));
        Assert.Equal(
            [
                ReadEvent.Message(Opcode.Text, "one"u8.ToArray()),
                ReadEvent.Message(Opcode.Binary, [1, 2, 3]),
                ReadEvent.Ping("p"u8.ToArray()),
                ReadEvent.Message(Opcode.Text, "two"u8.ToArray()),
                ReadEvent.Close(1000, "bye"u8.ToArray()),
            ],
            ReaderDriver.ReadWhole(data));
    }

    [Fact]
    public void Partial_frame_reports_need_more_data_and_partial_message()
    {
        using var reader = new MessageReader(1 << 20);
        var frame = Frames.Text("hello world");
        var buffer = new ReadOnlySequence<byte>(frame[..9]);
        Assert.Equal(FrameEvent.NeedMoreData, reader.Read(ref buffer));
        Assert.Equal(0, buffer.Length); // header and the first payload bytes were taken
        Assert.True(reader.HasPartialMessage);
        buffer = new ReadOnlySequence<byte>(frame[9..]);
        Assert.Equal(FrameEvent.Message, reader.Read(ref buffer));
        Assert.Equal("hello world", Encoding.UTF8.GetString(reader.Payload.ToArray()));
        reader.ReleaseMessage();
        Assert.False(reader.HasPartialMessage);
    }

    // ---------------------------------------------------------------- fragmentation

    [Fact]
    public void Fragmented_text_with_ping_and_pong_between_fragments()
    {
        var text = Encoding.UTF8.GetBytes("Hello, κόσμε! fragmented world");
        var data = Frames.Concat(
            Frames.Masked(false, Opcode.Text, text[..7]),
            Frames.Masked(true, Opcode.Ping, "ping!"u8, Mask2),
            Frames.Masked(false, Opcode.Continuation, text[7..20]),
            Frames.Masked(true, Opcode.Pong, "pong"u8),
            Frames.Masked(true, Opcode.Continuation, text[20..], Mask2));

        Assert.Equal(
            [ReadEvent.Ping("ping!"u8.ToArray()), ReadEvent.Pong("pong"u8.ToArray()), ReadEvent.Message(Opcode.Text, text)],
            ReaderDriver.ReadWhole(data));
    }

    [Fact]
    public void Fragmented_message_reports_partial_state_between_fragments()
    {
        using var reader = new MessageReader(1 << 20);
        var buffer = new ReadOnlySequence<byte>(Frames.Concat(
            Frames.Masked(false, Opcode.Binary, [1, 2]),
            Frames.Masked(true, Opcode.Ping, [9])));
        Assert.Equal(FrameEvent.Ping, reader.Read(ref buffer));
        Assert.True(reader.HasPartialMessage);
        Assert.Equal([9], reader.ControlPayload.ToArray());
        reader.ReleaseMessage(); // must not drop the fragment collected so far
        Assert.Equal(FrameEvent.NeedMoreData, reader.Read(ref buffer));

        buffer = new ReadOnlySequence<byte>(Frames.Masked(true, Opcode.Continuation, [3]));
        Assert.Equal(FrameEvent.Message, reader.Read(ref buffer));
        Assert.Equal(Opcode.Binary, reader.MessageOpcode);
        Assert.Equal([1, 2, 3], reader.Payload.ToArray());
        reader.ReleaseMessage();
        Assert.False(reader.HasPartialMessage);
    }

    [Fact]
    public void Fragmented_message_with_empty_fragments()
    {
        var data = Frames.Concat(
            Frames.Masked(false, Opcode.Text, []),
            Frames.Masked(false, Opcode.Continuation, "ab"u8),
            Frames.Masked(false, Opcode.Continuation, []),
            Frames.Masked(true, Opcode.Continuation, []));
        Assert.Equal([ReadEvent.Message(Opcode.Text, "ab"u8.ToArray())], ReaderDriver.ReadWhole(data));
    }

    [Fact]
    public void Messages_after_a_fragmented_message_start_clean()
    {
        var data = Frames.Concat(
            Frames.Masked(false, Opcode.Binary, [1, 2, 3]),
            Frames.Masked(true, Opcode.Continuation, [4]),
            Frames.Masked(false, Opcode.Text, "x"u8),
            Frames.Masked(true, Opcode.Continuation, "y"u8),
            Frames.Masked(true, Opcode.Binary, [5]));
        Assert.Equal(
            [
                ReadEvent.Message(Opcode.Binary, [1, 2, 3, 4]),
                ReadEvent.Message(Opcode.Text, "xy"u8.ToArray()),
                ReadEvent.Message(Opcode.Binary, [5]),
            ],
            ReaderDriver.ReadWhole(data));
    }

    [Fact]
    public void Close_is_allowed_in_the_middle_of_a_fragmented_message()
    {
        var data = Frames.Concat(Frames.Masked(false, Opcode.Text, "ab"u8), Frames.Close(1001, []));
        Assert.Equal([ReadEvent.Close(1001, [])], ReaderDriver.ReadWhole(data));
    }

    // ---------------------------------------------------------------- protocol errors (1002)

    [Theory]
    [InlineData(1)] [InlineData(2)] [InlineData(3)] [InlineData(4)] [InlineData(7)]
    public void Rsv_bits_fail_with_1002(int rsv)
    {
        AssertSingleError(Frames.Masked(true, Opcode.Text, "x"u8, rsv: rsv), CloseCodes.ProtocolError);
        AssertSingleError(Frames.Masked(true, Opcode.Ping, [], rsv: rsv), CloseCodes.ProtocolError);
    }

    [Theory]
    [InlineData(3)] [InlineData(4)] [InlineData(5)] [InlineData(6)] [InlineData(7)]
    [InlineData(11)] [InlineData(12)] [InlineData(13)] [InlineData(14)] [InlineData(15)]
    public void Reserved_opcodes_fail_with_1002(int opcode)
    {
        AssertSingleError(Frames.Build(true, opcode, "x"u8, Frames.DefaultMask), CloseCodes.ProtocolError);
        AssertSingleError(Frames.Build(true, opcode, [], Frames.DefaultMask), CloseCodes.ProtocolError);
    }

    [Fact]
    public void Unmasked_client_frame_fails_with_1002_unless_masking_is_not_required()
    {
        var frame = Frames.Build(true, (int)Opcode.Text, "hi"u8, mask: null);
        AssertSingleError(frame, CloseCodes.ProtocolError);
        AssertSingleError(Frames.Build(true, (int)Opcode.Ping, [], mask: null), CloseCodes.ProtocolError);
        Assert.Equal([ReadEvent.Message(Opcode.Text, "hi"u8.ToArray())], ReaderDriver.ReadWhole(frame, requireMask: false));
        // A masked frame is still unmasked correctly when masking is optional.
        Assert.Equal([ReadEvent.Message(Opcode.Text, "hi"u8.ToArray())], ReaderDriver.ReadWhole(Frames.Text("hi"), requireMask: false));
    }

    [Fact]
    public void Length_with_the_top_bit_set_fails_with_1002()
    {
        var header = Frames.Build(true, (int)Opcode.Binary, [], Frames.DefaultMask, encoding: LengthEncoding.Bits64, declaredLength: 0x8000_0000_0000_0001UL);
        AssertSingleError(header, CloseCodes.ProtocolError);
        header = Frames.Build(true, (int)Opcode.Binary, [], Frames.DefaultMask, encoding: LengthEncoding.Bits64, declaredLength: ulong.MaxValue);
        AssertSingleError(header, CloseCodes.ProtocolError);
    }

    [Theory]
    [InlineData(Opcode.Ping)]
    [InlineData(Opcode.Pong)]
    [InlineData(Opcode.Close)]
    public void Control_frame_with_126_byte_payload_fails_with_1002(Opcode opcode)
    {
        var payload = new byte[126];
        BinaryPrimitives.WriteUInt16BigEndian(payload, 1000);
        AssertSingleError(Frames.Masked(true, opcode, payload), CloseCodes.ProtocolError);
        // Decided from the header alone, before the payload arrives.
        using var reader = new MessageReader(1 << 20);
        Assert.Equal(FrameEvent.Error, ReadOnce(reader, Frames.Masked(true, opcode, payload)[..8], out _));
        Assert.Equal(CloseCodes.ProtocolError, reader.ErrorCloseCode);
    }

    [Theory]
    [InlineData(Opcode.Ping)]
    [InlineData(Opcode.Pong)]
    [InlineData(Opcode.Close)]
    public void Fragmented_control_frame_fails_with_1002(Opcode opcode)
    {
        AssertSingleError(Frames.Masked(false, opcode, []), CloseCodes.ProtocolError);
    }

    [Fact]
    public void Continuation_without_a_start_fails_with_1002()
    {
        AssertSingleError(Frames.Masked(true, Opcode.Continuation, "x"u8), CloseCodes.ProtocolError);
        AssertSingleError(Frames.Masked(false, Opcode.Continuation, "x"u8), CloseCodes.ProtocolError);
        // Also after a complete fragmented message.
        var data = Frames.Concat(
            Frames.Masked(false, Opcode.Text, "a"u8),
            Frames.Masked(true, Opcode.Continuation, "b"u8),
            Frames.Masked(true, Opcode.Continuation, "c"u8));
        Assert.Equal([ReadEvent.Message(Opcode.Text, "ab"u8.ToArray()), ReadEvent.Error(CloseCodes.ProtocolError)], ReaderDriver.ReadWhole(data));
    }

    [Theory]
    [InlineData(Opcode.Text, Opcode.Text)]
    [InlineData(Opcode.Text, Opcode.Binary)]
    [InlineData(Opcode.Binary, Opcode.Text)]
    [InlineData(Opcode.Binary, Opcode.Binary)]
    public void New_data_frame_inside_a_fragmented_message_fails_with_1002(Opcode first, Opcode second)
    {
        var data = Frames.Concat(Frames.Masked(false, first, "a"u8), Frames.Masked(true, second, "b"u8));
        AssertSingleError(data, CloseCodes.ProtocolError);
        data = Frames.Concat(Frames.Masked(false, first, "a"u8), Frames.Masked(false, second, "b"u8));
        AssertSingleError(data, CloseCodes.ProtocolError);
    }

    // ---------------------------------------------------------------- size limit (1009)

    [Theory]
    [InlineData(1001L, Opcode.Binary)]
    [InlineData(1001L, Opcode.Text)]
    [InlineData(65535L, Opcode.Binary)]
    [InlineData(1L << 40, Opcode.Binary)]
    [InlineData(long.MaxValue, Opcode.Text)]
    public void Too_big_message_fails_with_1009_from_the_header_alone(long declared, Opcode opcode)
    {
        var header = Frames.Build(true, (int)opcode, [], Frames.DefaultMask, declaredLength: (ulong)declared);
        Assert.True(header.Length <= 14);
        using var reader = new MessageReader(1000);
        Assert.Equal(FrameEvent.Error, ReadOnce(reader, header, out _));
        Assert.Equal(CloseCodes.MessageTooBig, reader.ErrorCloseCode);

        // Same for the first fragment of a fragmented message.
        header = Frames.Build(false, (int)opcode, [], Frames.DefaultMask, declaredLength: (ulong)declared);
        using var reader2 = new MessageReader(1000);
        Assert.Equal(FrameEvent.Error, ReadOnce(reader2, header, out _));
        Assert.Equal(CloseCodes.MessageTooBig, reader2.ErrorCloseCode);
    }

    [Fact]
    public void Message_of_exactly_the_limit_is_accepted()
    {
        var payload = Frames.RandomBytes(1000, 1);
        Assert.Equal([ReadEvent.Message(Opcode.Binary, payload)], ReaderDriver.ReadWhole(Frames.Masked(true, Opcode.Binary, payload), 1000));
        var fragmented = Frames.Concat(
            Frames.Masked(false, Opcode.Binary, payload[..400]),
            Frames.Masked(false, Opcode.Continuation, payload[400..999]),
            Frames.Masked(true, Opcode.Continuation, payload[999..]));
        Assert.Equal([ReadEvent.Message(Opcode.Binary, payload)], ReaderDriver.ReadWhole(fragmented, 1000));
    }

    [Fact]
    public void Fragments_over_the_limit_fail_with_1009_at_the_offending_header()
    {
        var first = Frames.Masked(false, Opcode.Binary, new byte[600]);
        var secondHeader = Frames.Build(true, (int)Opcode.Continuation, [], Frames.DefaultMask, declaredLength: 401);
        using var reader = new MessageReader(1000);
        var buffer = new ReadOnlySequence<byte>(Frames.Concat(first, secondHeader));
        Assert.Equal(FrameEvent.Error, reader.Read(ref buffer));
        Assert.Equal(CloseCodes.MessageTooBig, reader.ErrorCloseCode);

        // Many small fragments add up too.
        var many = new List<byte[]>();
        for (int i = 0; i < 11; i++) many.Add(Frames.Masked(false, i == 0 ? Opcode.Text : Opcode.Continuation, TextPayload(100)));
        many.Add(Frames.Masked(true, Opcode.Continuation, []));
        AssertSingleError(Frames.Concat(many.ToArray()), CloseCodes.MessageTooBig, max: 1000);
    }

    [Fact]
    public void Continuation_with_a_huge_length_fails_with_1009_and_does_not_overflow_the_running_total()
    {
        // Regression: the running total (_messageLength + PayloadLength) used to wrap negative for a legal
        // 63-bit continuation length and pass the size check.
        var first = Frames.Masked(false, Opcode.Binary, new byte[10]);
        var hugeHeader = Frames.Build(true, (int)Opcode.Continuation, [], Frames.DefaultMask,
            encoding: LengthEncoding.Bits64, declaredLength: (ulong)long.MaxValue);
        using var reader = new MessageReader(1000);
        var buffer = new ReadOnlySequence<byte>(Frames.Concat(first, hugeHeader));
        Assert.Equal(FrameEvent.Error, reader.Read(ref buffer));
        Assert.Equal(CloseCodes.MessageTooBig, reader.ErrorCloseCode);
    }

    // ---------------------------------------------------------------- UTF-8 (1007)

    [Theory]
    [InlineData("C080")]
    [InlineData("EDA080")]
    [InlineData("F4908080")]
    [InlineData("FF")]
    [InlineData("68656C6C6F80")]
    [InlineData("CEBAE1BDB9CF83CEBCCEB5EDA080656469746564")] // κόσμε + surrogate + "edited"
    [InlineData("E282")]                                    // ends inside a character
    public void Invalid_utf8_text_fails_with_1007(string hex)
    {
        var payload = Convert.FromHexString(hex);
        var frame = Frames.Masked(true, Opcode.Text, payload);
        AssertSingleError(frame, CloseCodes.InvalidPayload);                                  // whole frame in the buffer
        Assert.Equal([ReadEvent.Error(CloseCodes.InvalidPayload)], ReaderDriver.ReadIncrementally([frame[..6], frame[6..]])); // streamed
        // Binary frames are not checked.
        Assert.Equal([ReadEvent.Message(Opcode.Binary, payload)], ReaderDriver.ReadWhole(Frames.Masked(true, Opcode.Binary, payload)));
    }

    [Theory]
    [InlineData("FF")]
    [InlineData("C0")]
    [InlineData("EDA0")]      // fail fast: cannot become valid
    [InlineData("F490")]
    [InlineData("41424380")]
    public void Invalid_utf8_in_the_first_fragment_fails_before_the_final_fragment(string hex)
    {
        var first = Frames.Masked(false, Opcode.Text, Frames.Concat("ok "u8.ToArray(), Convert.FromHexString(hex)));
        using var reader = new MessageReader(1 << 20);
        Assert.Equal(FrameEvent.Error, ReadOnce(reader, first, out _));
        Assert.Equal(CloseCodes.InvalidPayload, reader.ErrorCloseCode);
    }

    [Fact]
    public void Invalid_utf8_in_a_partly_received_frame_fails_before_the_rest_arrives()
    {
        var payload = Frames.Concat(Encoding.ASCII.GetBytes(new string('a', 50)), [0xFF], Encoding.ASCII.GetBytes(new string('b', 500)));
        var frame = Frames.Masked(true, Opcode.Text, payload);
        using var reader = new MessageReader(1 << 20);
        Assert.Equal(FrameEvent.Error, ReadOnce(reader, frame[..(8 + 60)], out _));
        Assert.Equal(CloseCodes.InvalidPayload, reader.ErrorCloseCode);
    }

    [Fact]
    public void Multibyte_character_split_across_fragments_is_accepted()
    {
        var text = Encoding.UTF8.GetBytes("€😀");  // E2 82 AC F0 9F 98 80
        var data = Frames.Concat(
            Frames.Masked(false, Opcode.Text, text[..2]),
            Frames.Masked(true, Opcode.Ping, []),
            Frames.Masked(false, Opcode.Continuation, text[2..5]),
            Frames.Masked(true, Opcode.Continuation, text[5..]));
        Assert.Equal([ReadEvent.Ping([]), ReadEvent.Message(Opcode.Text, text)], ReaderDriver.ReadWhole(data));
    }

    [Fact]
    public void Fragmented_text_ending_inside_a_character_fails_with_1007()
    {
        var data = Frames.Concat(
            Frames.Masked(false, Opcode.Text, "ab"u8),
            Frames.Masked(true, Opcode.Continuation, [0xE2, 0x82]));
        AssertSingleError(data, CloseCodes.InvalidPayload);
    }

    [Fact]
    public void Utf8_state_does_not_leak_from_one_message_to_the_next()
    {
        // A binary message with a dangling lead byte, then a text message starting with a continuation byte.
        var data = Frames.Concat(
            Frames.Masked(false, Opcode.Binary, [0xE2]),
            Frames.Masked(true, Opcode.Continuation, [0x82]),
            Frames.Masked(false, Opcode.Text, [0xAC]),
            Frames.Masked(true, Opcode.Continuation, []));
        Assert.Equal([ReadEvent.Message(Opcode.Binary, [0xE2, 0x82]), ReadEvent.Error(CloseCodes.InvalidPayload)], ReaderDriver.ReadWhole(data));
    }

    // ---------------------------------------------------------------- close frames

    [Fact]
    public void Empty_close_has_code_zero()
    {
        using var reader = new MessageReader(1 << 20);
        Assert.Equal(FrameEvent.Close, ReadOnce(reader, Frames.Masked(true, Opcode.Close, []), out var rest));
        Assert.Equal(0, rest.Length);
        Assert.Equal(0, reader.CloseCode);
        Assert.True(reader.CloseReason.IsEmpty);
    }

    [Fact]
    public void Close_with_one_byte_payload_fails_with_1002()
    {
        AssertSingleError(Frames.Masked(true, Opcode.Close, [0x03]), CloseCodes.ProtocolError);
    }

    [Theory]
    [InlineData(0)] [InlineData(999)] [InlineData(1004)] [InlineData(1005)] [InlineData(1006)]
    [InlineData(1012)] [InlineData(1013)] [InlineData(1014)] [InlineData(1015)] [InlineData(1016)]
    [InlineData(1100)] [InlineData(2000)] [InlineData(2999)] [InlineData(5000)] [InlineData(65535)]
    public void Close_with_an_invalid_code_fails_with_1002(int code)
    {
        Assert.False(CloseCodes.IsValidOnWire((ushort)code));
        AssertSingleError(Frames.Close((ushort)code, []), CloseCodes.ProtocolError);
        AssertSingleError(Frames.Close((ushort)code, "reason"u8), CloseCodes.ProtocolError);
    }

    [Theory]
    [InlineData(1000)] [InlineData(1001)] [InlineData(1002)] [InlineData(1003)] [InlineData(1007)]
    [InlineData(1008)] [InlineData(1009)] [InlineData(1010)] [InlineData(1011)]
    [InlineData(3000)] [InlineData(3999)] [InlineData(4000)] [InlineData(4999)]
    public void Close_with_a_valid_code_returns_code_and_reason(int code)
    {
        Assert.True(CloseCodes.IsValidOnWire((ushort)code));
        var reason = Encoding.UTF8.GetBytes("going away: κόσμε");
        Assert.Equal([ReadEvent.Close((ushort)code, reason)], ReaderDriver.ReadWhole(Frames.Close((ushort)code, reason)));
        Assert.Equal([ReadEvent.Close((ushort)code, [])], ReaderDriver.ReadWhole(Frames.Close((ushort)code, [])));
    }

    [Fact]
    public void Close_with_a_123_byte_reason_is_accepted()
    {
        var reason = Encoding.ASCII.GetBytes(new string('r', 123));
        Assert.Equal([ReadEvent.Close(1000, reason)], ReaderDriver.ReadWhole(Frames.Close(1000, reason)));
    }

    [Theory]
    [InlineData("FF")]
    [InlineData("CEBAE1BDB9CF83CEBCCEB5EDA080656469746564")]
    [InlineData("E282")]
    public void Close_reason_with_invalid_utf8_fails_with_1007(string hex)
    {
        AssertSingleError(Frames.Close(1000, Convert.FromHexString(hex)), CloseCodes.InvalidPayload);
    }

    // ---------------------------------------------------------------- ping / pong

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(125)]
    public void Ping_and_pong_payloads_are_returned_unmasked(int length)
    {
        var payload = Frames.RandomBytes(length, 77 + length);
        using var reader = new MessageReader(1 << 20);
        var buffer = new ReadOnlySequence<byte>(Frames.Concat(
            Frames.Masked(true, Opcode.Ping, payload, Mask2),
            Frames.Masked(true, Opcode.Pong, Enumerable.Reverse(payload).ToArray())));
        Assert.Equal(FrameEvent.Ping, reader.Read(ref buffer));
        Assert.Equal(payload, reader.ControlPayload.ToArray());
        Assert.Equal(FrameEvent.Pong, reader.Read(ref buffer));
        Assert.Equal(Enumerable.Reverse(payload).ToArray(), reader.ControlPayload.ToArray());
        Assert.Equal(FrameEvent.NeedMoreData, reader.Read(ref buffer));
        Assert.Equal(0, buffer.Length);
    }

    [Fact]
    public void Partial_control_frame_is_not_consumed()
    {
        var ping = Frames.Masked(true, Opcode.Ping, "abcdef"u8);
        using var reader = new MessageReader(1 << 20);
        var buffer = new ReadOnlySequence<byte>(ping[..8].ToArray());
        Assert.Equal(FrameEvent.NeedMoreData, reader.Read(ref buffer));
        Assert.Equal(8, buffer.Length); // left in the pipe until the whole frame is there
        Assert.Equal(ping[..8], buffer.ToArray()); // and not unmasked in place
    }

    // ---------------------------------------------------------------- reassembly memory follows the bytes that arrived

    /// <summary>Counts rents and the bytes rented, so a test sees what the reader reserved.</summary>
    private sealed class CountingPool : ArrayPool<byte>
    {
        public int Rents;
        public long Outstanding;
        public override byte[] Rent(int minimumLength)
        {
            Rents++;
            var array = Shared.Rent(minimumLength);
            Outstanding += array.Length;
            return array;
        }
        public override void Return(byte[] array, bool clearArray = false)
        {
            Outstanding -= array.Length;
            Shared.Return(array, clearArray);
        }
    }

    [Fact]
    public void A_header_declaring_1_MiB_reserves_nothing_for_bytes_that_have_not_arrived()
    {
        var pool = new CountingPool();
        var budget = new ReassemblyBudget();
        using var reader = new MessageReader(2 << 20, pool: pool, budget: budget);
        var frame = Frames.Masked(true, Opcode.Binary, Frames.RandomBytes(1 << 20, 5));
        var buffer = new ReadOnlySequence<byte>(frame[..(14 + 10)]);
        Assert.Equal(FrameEvent.NeedMoreData, reader.Read(ref buffer));
        Assert.True(reader.HasPartialMessage);
        // 10 payload bytes arrived: the reader holds its small floor, not the declared megabyte.
        Assert.InRange(reader.HeldBytes, 10, 256);
        Assert.Equal(pool.Outstanding, reader.HeldBytes);
        Assert.Equal(reader.HeldBytes, budget.HeldBytes);
    }

    [Fact]
    public void The_buffer_grows_with_arrived_bytes_at_most_doubling_them_and_gives_everything_back()
    {
        const int Length = 1 << 20;
        var pool = new CountingPool();
        var budget = new ReassemblyBudget();
        var payload = Frames.RandomBytes(Length, 6);
        var frame = Frames.Masked(true, Opcode.Binary, payload);
        using var reader = new MessageReader(Length, pool: pool, budget: budget);
        int offset = 0;
        const int Block = 4096;
        while (true)
        {
            int n = Math.Min(Block, frame.Length - offset);
            var buffer = new ReadOnlySequence<byte>(frame, offset, n);
            var ev = reader.Read(ref buffer);
            Assert.Equal(0, buffer.Length);
            offset += n;
            long arrived = Math.Max(0, offset - 14);
            // An attacker pays at least one byte sent for every two held (plus the floor).
            Assert.InRange(reader.HeldBytes, 0, Math.Max(256, 2 * arrived));
            Assert.Equal(reader.HeldBytes, budget.HeldBytes);
            if (ev == FrameEvent.Message)
            {
                Assert.Equal(frame.Length, offset);
                Assert.Equal(payload, reader.Payload.ToArray());
                break;
            }
            Assert.Equal(FrameEvent.NeedMoreData, ev);
        }
        // Doubling: a handful of rents (so the copying is linear), not one per arrival.
        Assert.InRange(pool.Rents, 1, 14);
        reader.ReleaseMessage();
        Assert.Equal(0, reader.HeldBytes);
        Assert.Equal(0, budget.HeldBytes);
        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void Growth_never_rents_past_the_declared_length_of_a_fragmented_message()
    {
        var pool = new CountingPool();
        using var reader = new MessageReader(1 << 20, pool: pool);
        var first = Frames.RandomBytes(300, 7);
        var second = Frames.RandomBytes(700, 8);
        var buffer = new ReadOnlySequence<byte>(Frames.Concat(
            Frames.Masked(false, Opcode.Binary, first),
            Frames.Masked(true, Opcode.Continuation, second)));
        Assert.Equal(FrameEvent.Message, reader.Read(ref buffer));
        Assert.Equal(first.Concat(second).ToArray(), reader.Payload.ToArray());
        // 300 bytes fit 512; the continuation needs 1000: one more rent, sized for what the message can hold.
        Assert.Equal(2, pool.Rents);
        Assert.InRange(reader.HeldBytes, 1000, 1024);
        reader.ReleaseMessage();
        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void A_partial_message_gives_its_buffer_back_to_the_budget_when_the_reader_is_disposed()
    {
        var budget = new ReassemblyBudget();
        var a = new MessageReader(1 << 20, budget: budget);
        var b = new MessageReader(1 << 20, budget: budget);
        var frame = Frames.Masked(true, Opcode.Binary, Frames.RandomBytes(100_000, 9));
        var partA = new ReadOnlySequence<byte>(frame[..50_000]);
        var partB = new ReadOnlySequence<byte>(frame[..20_000]);
        Assert.Equal(FrameEvent.NeedMoreData, a.Read(ref partA));
        Assert.Equal(FrameEvent.NeedMoreData, b.Read(ref partB));
        Assert.Equal(a.HeldBytes + b.HeldBytes, budget.HeldBytes);
        Assert.InRange(budget.HeldBytes, 70_000, 2 * 70_000);
        a.Dispose();
        Assert.Equal(b.HeldBytes, budget.HeldBytes);
        b.Dispose();
        Assert.Equal(0, budget.HeldBytes);
    }

    [Fact]
    public void A_whole_frame_in_the_buffer_is_parsed_without_renting_or_allocating()
    {
        var pool = new CountingPool();
        using var reader = new MessageReader(1 << 20, pool: pool);
        var frame = Frames.Masked(true, Opcode.Binary, Frames.RandomBytes(64 * 1024, 10));
        var work = new byte[frame.Length];
        void ParseOnce()
        {
            frame.CopyTo(work, 0);
            var buffer = new ReadOnlySequence<byte>(work);
            if (reader.Read(ref buffer) != FrameEvent.Message) throw new InvalidOperationException("not one message");
            reader.ReleaseMessage();
        }
        ParseOnce();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) ParseOnce();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0, pool.Rents);
    }
}
