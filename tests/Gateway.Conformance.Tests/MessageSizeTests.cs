using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>Limits.MaxMessageBytes (1009 from the declared length, before the payload arrives) and the 64-bit length's top bit.</summary>
public class MessageSizeTests
{
    private const int Limit = 1024;
    private static void Small(Gateway.Server.Options.GatewayOptions o) => o.Limits.MaxMessageBytes = Limit;

    // Only the header is sent: the declared length alone must trigger 1009, at once.
    [Theory]
    [InlineData(Text, 1025UL, 2)]
    [InlineData(Binary, 1025UL, 2)]
    [InlineData(Binary, 1025UL, 8)]
    [InlineData(Binary, 65535UL, 2)]
    [InlineData(Text, 1UL << 40, 8)]
    [InlineData(Binary, 1UL << 40, 8)]
    [InlineData(Binary, (ulong)long.MaxValue, 8)]
    public async Task Frame_declaring_more_than_the_limit_is_1009_before_its_payload(byte opcode, ulong declared, int lengthBytes)
        => await ExpectFailureAsync(c => c.SendAsync(Header(opcode, declared, lengthBytes: lengthBytes)), 1009, Small, Short);

    [Theory]
    [InlineData(Text, 1024, 1)]
    [InlineData(Binary, 1000, 25)]
    [InlineData(Binary, 1, 1024)]
    [InlineData(Text, 0, 1025)]
    public async Task Fragments_adding_up_to_more_than_the_limit_are_1009(byte opcode, int first, int second)
        => await ExpectFailureAsync(async c =>
        {
            await c.SendAsync(RawClient.Frame(opcode, Payload(opcode, first), fin: false));
            // The last fragment's header alone pushes the message over the limit.
            await c.SendAsync(Header(Continuation, (ulong)second));
        }, 1009, Small, Short);

    [Fact]
    public async Task Many_fragments_adding_up_to_more_than_the_limit_are_1009()
        => await ExpectFailureAsync(async c =>
        {
            await c.SendAsync(RawClient.Frame(Binary, Payload(Binary, 300), fin: false));
            await c.SendAsync(RawClient.Frame(Continuation, Payload(Binary, 300), fin: false));
            await c.SendAsync(RawClient.Frame(Continuation, Payload(Binary, 300), fin: false));
            await c.SendAsync(RawClient.Frame(Continuation, Payload(Binary, 125), fin: false));
            await c.SendAsync(RawClient.Frame(Continuation, Payload(Binary, 0), fin: false));
            await c.SendAsync(RawClient.Frame(Continuation, Payload(Binary, 1)));
        }, 1009, Small, Short);

    [Theory]
    [InlineData(Text)]
    [InlineData(Binary)]
    public async Task Message_of_exactly_the_limit_echoes(byte opcode)
    {
        await using var gw = await TestGateway.StartAsync(Small);
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await RoundTripAsync(c, opcode, Payload(opcode, Limit));
        // and in pieces too
        var payload = Payload(opcode, Limit, seed: 3);
        await c.SendAsync(Concat(RawClient.Frame(opcode, payload.AsSpan(0, 1000), fin: false), RawClient.Frame(Continuation, payload.AsSpan(1000, 24), fin: false), RawClient.Frame(Continuation, [])));
        await ExpectEchoAsync(c, opcode, payload);
        // The limit is per message: a second message of the same size is fine.
        await RoundTripAsync(c, opcode, Payload(opcode, Limit, seed: 5));
    }

    [Fact]
    public async Task Message_of_exactly_the_limit_sent_in_small_writes_echoes()
    {
        await using var gw = await TestGateway.StartAsync(Small);
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var payload = Payload(Binary, Limit);
        await SendInPiecesAsync(c, RawClient.Frame(Binary, payload, forceLengthBytes: 8), 100);
        await ExpectEchoAsync(c, Binary, payload);
    }

    // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
    [Theory]
    [InlineData(0x8000000000000000UL)]
    [InlineData(0x8000000000000005UL)]
    [InlineData(0xFFFFFFFFFFFFFFFFUL)]
    public async Task Length_with_the_most_significant_bit_set_is_1002(ulong declared)
        => await ExpectFailureAsync(c => c.SendAsync(Header(Binary, declared, lengthBytes: 8)), 1002, Small, Short);

    // Regression: a continuation whose 64-bit length is huge but legal (top bit clear) used to overflow the
    // running message total in MessageReader and slip past the size check; it must close 1009 at the header.
    [Theory]
    [InlineData(1, (ulong)long.MaxValue, 0)]
    [InlineData(10, (ulong)long.MaxValue, 0)]
    [InlineData(10, (ulong)long.MaxValue - 5, 0)]
    [InlineData(10, (ulong)long.MaxValue, 2000)]
    public async Task Continuation_whose_declared_length_overflows_the_message_total_is_1009(int first, ulong declared, int payloadSent)
        => await ExpectFailureAsync(async c =>
        {
            await c.SendAsync(RawClient.Frame(Binary, Payload(Binary, first), fin: false));
            await c.SendAsync(Concat(Header(Continuation, declared, lengthBytes: 8), Mask(Payload(Binary, payloadSent))));
        }, 1009, Small, Short);

    // The same overflow with the default 1 MiB limit.
    [Fact]
    public async Task Continuation_whose_declared_length_overflows_is_1009_with_the_default_limit()
        => await ExpectFailureAsync(async c =>
        {
            await c.SendAsync(RawClient.Frame(Text, Utf8("start"), fin: false));
            await c.SendAsync(Concat(Header(Continuation, (ulong)long.MaxValue, lengthBytes: 8), Mask(Payload(Text, 4000))));
        }, 1009, timeout: Short);

    // The limit is for the whole message, not for one frame: each small frame is fine on its own.
    [Fact]
    public async Task Limit_counts_the_whole_message_not_each_frame()
        => await ExpectFailureAsync(async c =>
        {
            var piece = Payload(Text, 100);
            for (int i = 0; i < 10; i++) await c.SendAsync(RawClient.Frame(i == 0 ? Text : Continuation, piece, fin: false));
            await c.SendAsync(RawClient.Frame(Continuation, Payload(Text, 25)));
        }, 1009, Small, Short);
}
