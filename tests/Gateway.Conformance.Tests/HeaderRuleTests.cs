using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>RFC 6455 §5.2/§5.3: reserved bits, reserved opcodes and client masking, each failing the connection with 1002.</summary>
public class HeaderRuleTests
{
    public static TheoryData<string, byte> RsvCases()
    {
        var d = new TheoryData<string, byte>();
        foreach (var kind in new[] { "text", "binary", "continuation", "ping", "pong", "close" })
            for (byte rsv = 1; rsv <= 7; rsv++) // 4 = RSV1, 2 = RSV2, 1 = RSV3 and every combination
                d.Add(kind, rsv);
        return d;
    }

    private static byte[] WithRsv(string kind, byte rsv) => kind switch
    {
        "text" => RawClient.Frame(Text, Utf8("rsv"), rsv: rsv),
        "binary" => RawClient.Frame(Binary, [1, 2, 3], rsv: rsv),
        // The message is opened correctly; the continuation carries the bits.
        "continuation" => Concat(RawClient.Frame(Text, Utf8("open "), fin: false), RawClient.Frame(Continuation, Utf8("rsv"), rsv: rsv)),
        "ping" => RawClient.Frame(Ping, Utf8("rsv"), rsv: rsv),
        "pong" => RawClient.Frame(Pong, Utf8("rsv"), rsv: rsv),
        "close" => RawClient.Frame(Close, [0x03, 0xE8], rsv: rsv),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(RsvCases))]
    public async Task Reserved_bits_without_an_extension_are_1002(string frame, byte rsv)
        => await ExpectFailureAsync(c => c.SendAsync(WithRsv(frame, rsv)), 1002);

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    [InlineData(15)]
    public async Task Reserved_opcode_is_1002(byte opcode)
        => await ExpectFailureAsync(c => c.SendAsync(RawClient.Frame(opcode, Utf8("reserved"))), 1002);

    [Theory]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(11)]
    [InlineData(15)]
    public async Task Reserved_opcode_with_empty_payload_or_no_fin_is_1002(byte opcode)
    {
        await ExpectFailureAsync(c => c.SendAsync(RawClient.Frame(opcode, [])), 1002);
        await ExpectFailureAsync(c => c.SendAsync(RawClient.Frame(opcode, Utf8("x"), fin: false)), 1002);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(12)]
    public async Task Reserved_opcode_inside_a_fragmented_message_is_1002(byte opcode)
        => await ExpectFailureAsync(c => c.SendAsync(Concat(RawClient.Frame(Text, Utf8("open"), fin: false), RawClient.Frame(opcode, Utf8("x")))), 1002);

    // Reserved opcode after valid traffic: what came before is still echoed, then the connection fails.
    [Fact]
    public async Task Reserved_opcode_after_valid_messages_fails_after_their_echoes()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await c.SendAsync(Concat(RawClient.Frame(Text, Utf8("one")), RawClient.Frame(Ping, Utf8("p")), RawClient.Frame(5, Utf8("bad")), RawClient.Frame(Text, Utf8("never"))));
        await ExpectEchoAsync(c, Text, Utf8("one"));
        await ExpectFrameAsync(c, Pong, Utf8("p"));
        await ExpectCloseAsync(c, 1002);
    }

    public static TheoryData<string> UnmaskedCases() => new() { "text", "empty text", "binary", "ping", "pong", "close", "continuation" };

    [Theory]
    [MemberData(nameof(UnmaskedCases))]
    public async Task Unmasked_client_frame_is_1002(string kind)
    {
        byte[] frame = kind switch
        {
            "text" => RawClient.Frame(Text, Utf8("unmasked"), mask: false),
            "empty text" => RawClient.Frame(Text, [], mask: false),
            "binary" => RawClient.Frame(Binary, Payload(Binary, 300), mask: false),
            "ping" => RawClient.Frame(Ping, Utf8("unmasked"), mask: false),
            "pong" => RawClient.Frame(Pong, Utf8("unmasked"), mask: false),
            "close" => RawClient.Frame(Close, [0x03, 0xE8], mask: false),
            "continuation" => Concat(RawClient.Frame(Text, Utf8("masked "), fin: false), RawClient.Frame(Continuation, Utf8("unmasked"), mask: false)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        await ExpectFailureAsync(c => c.SendAsync(frame), 1002);
    }
}
