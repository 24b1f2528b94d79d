using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>RFC 6455 §5.2: payload lengths, length encodings, masking keys and how frames are cut into TCP writes.</summary>
public class FramingTests
{
    public static TheoryData<byte, int> LengthClasses()
    {
        var d = new TheoryData<byte, int>();
        foreach (byte op in new[] { Text, Binary })
            foreach (int n in new[] { 0, 1, 125, 126, 127, 65535, 65536, 1_000_000 })
                d.Add(op, n);
        return d;
    }

    [Theory]
    [MemberData(nameof(LengthClasses))]
    public async Task Payload_of_each_length_class_echoes_exactly(byte opcode, int size)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await RoundTripAsync(c, opcode, Payload(opcode, size));
    }

    // Non-minimal length encodings (7-bit values sent as 16- or 64-bit, 16-bit values sent as 64-bit) are accepted.
    [Theory]
    [InlineData(Text, 0, 2)]
    [InlineData(Text, 1, 2)]
    [InlineData(Text, 125, 2)]
    [InlineData(Binary, 0, 2)]
    [InlineData(Binary, 5, 2)]
    [InlineData(Binary, 125, 2)]
    [InlineData(Text, 0, 8)]
    [InlineData(Text, 1, 8)]
    [InlineData(Text, 125, 8)]
    [InlineData(Text, 126, 8)]
    [InlineData(Binary, 0, 8)]
    [InlineData(Binary, 100, 8)]
    [InlineData(Binary, 126, 8)]
    [InlineData(Binary, 65535, 8)]
    public async Task Non_minimal_length_encoding_is_accepted(byte opcode, int size, int lengthBytes)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var payload = Payload(opcode, size);
        await c.SendAsync(RawClient.Frame(opcode, payload, forceLengthBytes: lengthBytes));
        await ExpectEchoAsync(c, opcode, payload);
    }

    // Mask keys with zero bytes, all ones, and payload lengths around the vector widths used for unmasking.
    [Theory]
    [InlineData(0x00000000u, 37)]
    [InlineData(0xFFFFFFFFu, 37)]
    [InlineData(0x01020304u, 3)]
    [InlineData(0x01020304u, 31)]
    [InlineData(0x01020304u, 32)]
    [InlineData(0x01020304u, 33)]
    [InlineData(0xDEADBEEFu, 100)]
    [InlineData(0xA5000000u, 4099)]
    public async Task Any_mask_key_unmasks_correctly(uint key, int size)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var payload = Payload(Binary, size);
        await c.SendAsync(RawClient.Frame(Binary, payload, maskKey: key));
        await ExpectEchoAsync(c, Binary, payload);
        var text = Payload(Text, size);
        await c.SendAsync(RawClient.Frame(Text, text, maskKey: key));
        await ExpectEchoAsync(c, Text, text);
    }

    // The frame (header included) trickles in: one byte per TCP write for small frames, bigger pieces for big ones.
    [Theory]
    [InlineData(Text, 0, 1)]
    [InlineData(Text, 20, 1)]
    [InlineData(Binary, 20, 1)]
    [InlineData(Text, 300, 1)]
    [InlineData(Binary, 300, 1)]
    [InlineData(Text, 5000, 7)]
    [InlineData(Binary, 70000, 999)]
    [InlineData(Text, 200000, 4093)]
    public async Task Frame_sent_in_many_small_writes_echoes(byte opcode, int size, int chunk)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var payload = Payload(opcode, size);
        await SendInPiecesAsync(c, RawClient.Frame(opcode, payload), chunk);
        await ExpectEchoAsync(c, opcode, payload);
    }

    public static TheoryData<int, int> HeaderSplits()
    {
        var d = new TheoryData<int, int>();
        // 16-bit length: header is 2 + 2 + 4 = 8 bytes; 64-bit: 14 bytes. Split at every point inside the header and just after it.
        for (int at = 1; at <= 9; at++) d.Add(200, at);
        for (int at = 1; at <= 15; at++) d.Add(70000, at);
        return d;
    }

    [Theory]
    [MemberData(nameof(HeaderSplits))]
    public async Task Frame_split_in_two_writes_at_any_header_byte_echoes(int size, int splitAt)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var payload = Payload(Binary, size);
        var frame = RawClient.Frame(Binary, payload);
        await c.SendAsync(frame.AsMemory(0, splitAt));
        await c.SendAsync(frame.AsMemory(splitAt));
        await ExpectEchoAsync(c, Binary, payload);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(10)]
    [InlineData(200)]
    public async Task Several_frames_in_one_write_all_echo_in_order(int count)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var messages = new List<(byte Opcode, byte[] Payload)>();
        // Kept small: a client that does not read while it sends could otherwise fill both directions' buffers.
        int[] sizes = [0, 1, 5, 125, 126, 300, 4000];
        for (int i = 0; i < count; i++)
        {
            byte op = i % 2 == 0 ? Text : Binary;
            messages.Add((op, Payload(op, sizes[i % sizes.Length], seed: i)));
        }
        await c.SendAsync(Concat(messages.Select(m => RawClient.Frame(m.Opcode, m.Payload)).ToArray()));
        foreach (var (op, payload) in messages) await ExpectEchoAsync(c, op, payload);
    }

    [Fact]
    public async Task Frame_in_the_same_write_as_the_upgrade_request_echoes()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.ConnectAsync(gw.EndPoint);
        var payload = Utf8("sent together with the handshake");
        await c.SendAsync(Concat(System.Text.Encoding.ASCII.GetBytes(RawClient.UpgradeRequest("/echo")), RawClient.Frame(Text, payload), RawClient.Frame(Ping, Utf8("p"))));
        var (status, _) = await c.ReadHttpHeadAsync(Normal);
        Assert.Equal(101, status);
        await ExpectEchoAsync(c, Text, payload);
        await ExpectFrameAsync(c, Pong, Utf8("p"));
    }

    [Fact]
    public async Task Many_messages_on_one_connection_echo_in_order()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        for (int i = 0; i < 100; i++) await RoundTripAsync(c, i % 2 == 0 ? Text : Binary, Payload(i % 2 == 0 ? Text : Binary, i * 13, seed: i));
    }

    // Frames of a few kB in one write: some arrive whole but spread over several receive buffers, so they are
    // unmasked and UTF-8 checked in place across buffer boundaries.
    [Fact]
    public async Task Frames_spanning_receive_buffer_boundaries_echo()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var messages = new List<(byte Opcode, byte[] Payload)>();
        var text = Utf8(string.Concat(Enumerable.Repeat("aé€😀", 3000)));
        for (int i = 0; i < 40; i++)
        {
            int size = 3000 + i * 211;
            if (i % 2 == 0)
            {
                // Cut on a character boundary so each message is valid on its own.
                int n = size;
                while ((text[n] & 0xC0) == 0x80) n--;
                messages.Add((Text, text[..n]));
            }
            else messages.Add((Binary, Payload(Binary, size, seed: i)));
        }
        await c.SendAsync(Concat(messages.Select(m => RawClient.Frame(m.Opcode, m.Payload, maskKey: 0x9E3779B9u)).ToArray()));
        foreach (var (op, payload) in messages) await ExpectEchoAsync(c, op, payload);
    }
}
