using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>RFC 6455 §5.5: ping/pong and the limits on control frames.</summary>
public class ControlFrameTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(33)]
    [InlineData(124)]
    [InlineData(125)]
    public async Task Ping_gets_a_pong_with_the_identical_payload(int size)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var payload = Payload(Binary, size);
        await c.SendAsync(RawClient.Frame(Ping, payload));
        await ExpectFrameAsync(c, Pong, payload);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(125, 1)]
    [InlineData(125, 3)]
    public async Task Ping_sent_in_pieces_gets_a_pong(int size, int chunk)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var payload = Payload(Binary, size);
        await SendInPiecesAsync(c, RawClient.Frame(Ping, payload), chunk);
        await ExpectFrameAsync(c, Pong, payload);
    }

    [Fact]
    public async Task Many_pings_in_one_write_get_pongs_in_order()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var payloads = Enumerable.Range(0, 20).Select(i => Utf8($"ping #{i}")).ToList();
        await c.SendAsync(Concat(payloads.Select(p => RawClient.Frame(Ping, p)).ToArray()));
        foreach (var p in payloads) await ExpectFrameAsync(c, Pong, p);
    }

    [Fact]
    public async Task Ping_and_data_in_one_write_are_answered_in_order()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await c.SendAsync(Concat(RawClient.Frame(Text, Utf8("a")), RawClient.Frame(Ping, Utf8("b")), RawClient.Frame(Binary, [0xC]), RawClient.Frame(Ping, [])));
        await ExpectEchoAsync(c, Text, Utf8("a"));
        await ExpectFrameAsync(c, Pong, Utf8("b"));
        await ExpectEchoAsync(c, Binary, [0xC]);
        await ExpectFrameAsync(c, Pong, []);
    }

    // Control frame payloads are limited to 125 bytes (sent here with a 16-bit length, as 126+ requires).
    [Theory]
    [InlineData(Ping, 126)]
    [InlineData(Ping, 1000)]
    [InlineData(Pong, 126)]
    [InlineData(Close, 126)]
    public async Task Control_frame_over_125_bytes_is_1002(byte opcode, int size)
    {
        var payload = Payload(Text, size);
        if (opcode == Close) { payload[0] = 0x03; payload[1] = 0xE8; }
        await ExpectFailureAsync(c => c.SendAsync(RawClient.Frame(opcode, payload)), 1002);
    }

    // Same, but only the header: the length alone must be enough to fail.
    [Fact]
    public async Task Control_frame_header_declaring_126_bytes_is_1002_before_the_payload()
        => await ExpectFailureAsync(c => c.SendAsync(Header(Ping, 126)), 1002, timeout: Short);

    [Theory]
    [InlineData(Ping)]
    [InlineData(Pong)]
    [InlineData(Close)]
    public async Task Fragmented_control_frame_is_1002(byte opcode)
    {
        byte[] payload = opcode == Close ? [0x03, 0xE8] : Utf8("frag");
        await ExpectFailureAsync(c => c.SendAsync(RawClient.Frame(opcode, payload, fin: false)), 1002);
    }

    [Fact]
    public async Task Fragmented_ping_inside_a_fragmented_message_is_1002()
        => await ExpectFailureAsync(c => c.SendAsync(Concat(RawClient.Frame(Text, Utf8("open"), fin: false), RawClient.Frame(Ping, Utf8("p"), fin: false))), 1002);

    // Nothing comes back for an unsolicited pong: the next frame received is the echo of the message sent after it.
    [Theory]
    [InlineData(0, true)]
    [InlineData(10, true)]
    [InlineData(125, true)]
    [InlineData(10, false)]
    public async Task Unsolicited_pong_is_ignored(int size, bool separateWrites)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var pong = RawClient.Frame(Pong, Payload(Binary, size));
        var text = RawClient.Frame(Text, Utf8("after the pong"));
        if (separateWrites)
        {
            await c.SendAsync(pong);
            await c.SendAsync(text);
        }
        else await c.SendAsync(Concat(pong, pong, text));
        await ExpectEchoAsync(c, Text, Utf8("after the pong"));
    }
}
