using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>RFC 6455 §5.4: fragmented messages, control frames between fragments, and fragmentation errors.</summary>
public class FragmentationTests
{
    /// <summary>Cuts <paramref name="payload"/> into <paramref name="parts"/> consecutive pieces (as equal as possible).</summary>
    private static List<byte[]> Split(byte[] payload, int parts)
    {
        var result = new List<byte[]>();
        for (int i = 0; i < parts; i++)
        {
            int from = payload.Length * i / parts, to = payload.Length * (i + 1) / parts;
            result.Add(payload[from..to]);
        }
        return result;
    }

    private static List<byte[]> Fragments(byte opcode, List<byte[]> pieces)
    {
        var frames = new List<byte[]>();
        for (int i = 0; i < pieces.Count; i++)
            frames.Add(RawClient.Frame(i == 0 ? opcode : Continuation, pieces[i], fin: i == pieces.Count - 1));
        return frames;
    }

    private static async Task SendAllAsync(RawClient c, List<byte[]> frames, bool oneWrite)
    {
        if (oneWrite) await c.SendAsync(Concat(frames.ToArray()));
        else foreach (var f in frames) await c.SendAsync(f);
    }

    [Theory]
    [InlineData(Text, 2, false)]
    [InlineData(Text, 3, false)]
    [InlineData(Text, 10, false)]
    [InlineData(Text, 2, true)]
    [InlineData(Text, 3, true)]
    [InlineData(Text, 10, true)]
    [InlineData(Binary, 2, false)]
    [InlineData(Binary, 3, true)]
    [InlineData(Binary, 10, false)]
    public async Task Fragmented_message_echoes_as_one_message(byte opcode, int parts, bool oneWrite)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var payload = opcode == Text ? Utf8("Fragmented: κόσμε, 日本語, 😀 and plain ASCII to pad it out a bit.") : Payload(Binary, 1000);
        await SendAllAsync(c, Fragments(opcode, Split(payload, parts)), oneWrite);
        await ExpectEchoAsync(c, opcode, payload);
        // The connection is back to a clean state: an ordinary message follows.
        await RoundTripAsync(c, Text, Utf8("next"));
    }

    [Theory]
    [InlineData(Text, 3, 70000)]
    [InlineData(Binary, 5, 300000)]
    public async Task Large_fragmented_message_echoes(byte opcode, int parts, int size)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var payload = Payload(opcode, size);
        await SendAllAsync(c, Fragments(opcode, Split(payload, parts)), oneWrite: false);
        await ExpectEchoAsync(c, opcode, payload);
    }

    // Pings interleaved between fragments are answered at once: their pongs arrive BEFORE the reassembled echo.
    [Theory]
    [InlineData(Text, 1, false)]
    [InlineData(Text, 2, false)]
    [InlineData(Text, 3, true)]
    [InlineData(Text, 3, false)]
    [InlineData(Binary, 2, true)]
    public async Task Pings_between_fragments_get_pongs_before_the_echo(byte opcode, int pings, bool oneWrite)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var payload = opcode == Text ? Utf8("Hello, fragmented world!") : Payload(Binary, 64);
        var pieces = Split(payload, pings + 1);
        var frames = new List<byte[]>();
        var pingPayloads = new List<byte[]>();
        for (int i = 0; i < pieces.Count; i++)
        {
            frames.Add(RawClient.Frame(i == 0 ? opcode : Continuation, pieces[i], fin: i == pieces.Count - 1));
            if (i < pings)
            {
                var p = i == 1 ? [] : Utf8($"ping-{i}");
                pingPayloads.Add(p);
                frames.Add(RawClient.Frame(Ping, p));
            }
        }
        await SendAllAsync(c, frames, oneWrite);
        foreach (var p in pingPayloads) await ExpectFrameAsync(c, Pong, p);
        await ExpectEchoAsync(c, opcode, payload);
    }

    // The pong must come back while the message is still incomplete (the server must not hold it until the final fragment).
    [Fact]
    public async Task Ping_inside_an_unfinished_message_is_answered_immediately()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await c.SendAsync(RawClient.Frame(Text, Utf8("first half "), fin: false));
        await c.SendAsync(RawClient.Frame(Ping, Utf8("are you there?")));
        await ExpectFrameAsync(c, Pong, Utf8("are you there?"), Short);
        await c.SendAsync(RawClient.Frame(Continuation, Utf8("second half")));
        await ExpectEchoAsync(c, Text, Utf8("first half second half"));
    }

    [Fact]
    public async Task Unsolicited_pong_between_fragments_is_ignored()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await c.SendAsync(Concat(RawClient.Frame(Text, Utf8("ab"), fin: false), RawClient.Frame(Pong, Utf8("unasked")), RawClient.Frame(Continuation, Utf8("cd"))));
        await ExpectEchoAsync(c, Text, Utf8("abcd"));
    }

    // Fragments written as "a|b" → ["a", "b"]; empty pieces are empty fragments.
    [Theory]
    [InlineData(Text, "|")]
    [InlineData(Text, "||")]
    [InlineData(Text, "|abc")]
    [InlineData(Text, "abc|")]
    [InlineData(Text, "a||b||c")]
    [InlineData(Text, "||||||||||")]
    [InlineData(Binary, "|")]
    [InlineData(Binary, "|xyz|")]
    public async Task Empty_fragments_are_accepted(byte opcode, string spec)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var pieces = spec.Split('|').Select(Utf8).ToList();
        await SendAllAsync(c, Fragments(opcode, pieces), oneWrite: false);
        await ExpectEchoAsync(c, opcode, Utf8(spec.Replace("|", "")));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Continuation_without_a_started_message_is_1002(bool fin)
        => await ExpectFailureAsync(c => c.SendAsync(RawClient.Frame(Continuation, Utf8("orphan"), fin: fin)), 1002);

    [Fact]
    public async Task Continuation_after_a_completed_message_is_1002()
        => await ExpectFailureAsync(async c =>
        {
            await RoundTripAsync(c, Text, Utf8("complete"));
            await c.SendAsync(RawClient.Frame(Continuation, Utf8("late")));
        }, 1002);

    [Fact]
    public async Task Continuation_after_a_reassembled_fragmented_message_is_1002()
        => await ExpectFailureAsync(async c =>
        {
            await c.SendAsync(Concat(RawClient.Frame(Text, Utf8("a"), fin: false), RawClient.Frame(Continuation, Utf8("b"))));
            await ExpectEchoAsync(c, Text, Utf8("ab"));
            await c.SendAsync(RawClient.Frame(Continuation, Utf8("c")));
        }, 1002);

    // A new data frame (not a continuation) while a fragmented message is open.
    [Theory]
    [InlineData(Text, Text, true)]
    [InlineData(Text, Text, false)]
    [InlineData(Text, Binary, true)]
    [InlineData(Binary, Text, true)]
    [InlineData(Binary, Binary, false)]
    public async Task New_data_frame_inside_a_fragmented_message_is_1002(byte first, byte second, bool secondFin)
        => await ExpectFailureAsync(c => c.SendAsync(Concat(
                RawClient.Frame(first, Utf8("start"), fin: false),
                RawClient.Frame(Continuation, Utf8("middle"), fin: false),
                RawClient.Frame(second, Utf8("intruder"), fin: secondFin))), 1002);

    // A close frame may arrive between fragments; it ends the connection normally (the partial message is dropped).
    [Fact]
    public async Task Close_between_fragments_is_answered_with_a_close()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await c.SendAsync(RawClient.Frame(Text, Utf8("never finished"), fin: false));
        await c.SendAsync(RawClient.CloseFrame(1000, "bye"));
        await ExpectCloseAsync(c, 1000);
    }
}
