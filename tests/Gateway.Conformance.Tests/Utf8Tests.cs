using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>RFC 6455 §5.6/§8.1: text messages must be valid UTF-8 (RFC 3629), checked as they arrive.</summary>
public class Utf8Tests
{
    public static TheoryData<string, string> ValidTexts() => new()
    {
        { "empty", "" },
        { "ASCII", "48 65 6C 6C 6F" },
        { "2-byte é", "C3 A9" },
        { "U+0080 (smallest 2-byte)", "C2 80" },
        { "U+07FF (largest 2-byte)", "DF BF" },
        { "U+0800 (smallest 3-byte)", "E0 A0 80" },
        { "κόσμε", "CE BA E1 BD B9 CF 83 CE BC CE B5" },
        { "日本語", "E6 97 A5 E6 9C AC E8 AA 9E" },
        { "U+D7FF (just below surrogates)", "ED 9F BF" },
        { "U+E000 (just above surrogates)", "EE 80 80" },
        { "U+FEFF BOM", "EF BB BF" },
        { "U+FFFE", "EF BF BE" },
        { "U+FFFF", "EF BF BF" },
        { "U+10000 (smallest 4-byte)", "F0 90 80 80" },
        { "😀 U+1F600", "F0 9F 98 80" },
        { "U+10FFFF (largest)", "F4 8F BF BF" },
        { "NUL", "00" },
        { "mixed", "61 C3 A9 62 E2 82 AC 63 F0 9F 98 80 64 F4 8F BF BF" },
    };

    [Theory]
    [MemberData(nameof(ValidTexts))]
    public async Task Valid_text_echoes(string name, string hex)
    {
        _ = name;
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await RoundTripAsync(c, Text, Hex(hex));
    }

    [Fact]
    public async Task Long_multibyte_text_echoes()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var text = Utf8(string.Concat(Enumerable.Repeat("aé€😀\U0010FFFF", 20000))); // ~280 kB, arrives in many TCP reads
        await RoundTripAsync(c, Text, text);
    }

    public static TheoryData<string, string> InvalidTexts() => new()
    {
        { "overlong NUL C0 80", "C0 80" },
        { "overlong C1 BF", "C1 BF" },
        { "overlong 3-byte E0 80 80", "E0 80 80" },
        { "overlong 3-byte E0 9F BF", "E0 9F BF" },
        { "overlong 4-byte F0 80 80 80", "F0 80 80 80" },
        { "overlong 4-byte F0 8F BF BF", "F0 8F BF BF" },
        { "surrogate U+D800 ED A0 80", "ED A0 80" },
        { "surrogate U+DFFF ED BF BF", "ED BF BF" },
        { "surrogate pair (CESU-8)", "ED A0 BD ED B8 80" },
        { "above U+10FFFF F4 90 80 80", "F4 90 80 80" },
        { "F5 lead", "F5 80 80 80" },
        { "F7 lead", "F7 BF BF BF" },
        { "5-byte F8", "F8 88 80 80 80" },
        { "6-byte FC", "FC 84 80 80 80 80" },
        { "FE", "FE" },
        { "FF", "FF" },
        { "lone continuation 80", "80" },
        { "lone continuation BF", "BF" },
        { "continuation between ASCII", "41 80 42" },
        { "C0 alone", "C0" },
        { "C1 alone", "C1" },
        { "truncated 2-byte at end", "41 C3" },
        { "truncated 3-byte at end", "41 E2 82" },
        { "truncated 4-byte at end", "41 F0 9F 98" },
        { "truncated 3-byte then ASCII", "E2 82 41" },
        { "2-byte lead then lead", "C3 C3 A9" },
        { "invalid after valid text", "48 65 6C 6C 6F CE BA E1 BD B9 CF 83 CE BC CE B5 ED A0 80 65 64 69 74 65 64" },
    };

    [Theory]
    [MemberData(nameof(InvalidTexts))]
    public async Task Invalid_text_is_1007(string name, string hex)
    {
        _ = name;
        await ExpectFailureAsync(c => c.SendAsync(RawClient.Frame(Text, Hex(hex))), 1007);
    }

    // Invalid UTF-8 in a long text frame that arrives in many TCP reads (the streaming path, not the whole-frame path).
    [Theory]
    [InlineData(0)]
    [InlineData(100_000)]
    [InlineData(199_997)]
    public async Task Invalid_byte_anywhere_in_a_large_text_frame_is_1007(int position)
    {
        var payload = Payload(Text, 200_000);
        payload[position] = 0xFF;
        await ExpectFailureAsync(c => c.SendAsync(RawClient.Frame(Text, payload)), 1007);
    }

    // Binary messages are not text: the same bytes are echoed.
    [Fact]
    public async Task Invalid_utf8_in_a_binary_message_is_fine()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await RoundTripAsync(c, Binary, Hex("ED A0 80 C0 80 FF"));
    }

    public static TheoryData<string, int> ValidSplits()
    {
        var d = new TheoryData<string, int>();
        // A character between two ASCII letters, cut at every byte (0 = empty first fragment, length = empty last fragment).
        foreach (var hex in new[] { "61 C3 A9 62", "61 E2 82 AC 62", "61 F0 9F 98 80 62", "61 F4 8F BF BF 62", "61 EF BF BF 62" })
            for (int at = 0; at <= Hex(hex).Length; at++)
                d.Add(hex, at);
        return d;
    }

    [Theory]
    [MemberData(nameof(ValidSplits))]
    public async Task Valid_character_split_across_two_fragments_echoes(string hex, int splitAt)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var text = Hex(hex);
        await c.SendAsync(RawClient.Frame(Text, text.AsSpan(0, splitAt), fin: false));
        await c.SendAsync(RawClient.Frame(Continuation, text.AsSpan(splitAt)));
        await ExpectEchoAsync(c, Text, text);
    }

    [Theory]
    [InlineData("61 C3 A9 62")]
    [InlineData("E2 82 AC")]
    [InlineData("F0 9F 98 80")]
    public async Task Valid_text_with_one_fragment_per_byte_echoes(string hex)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var text = Hex(hex);
        for (int i = 0; i < text.Length; i++)
            await c.SendAsync(RawClient.Frame(i == 0 ? Text : Continuation, text.AsSpan(i, 1), fin: i == text.Length - 1));
        await ExpectEchoAsync(c, Text, text);
    }

    // A character split across TCP writes inside one frame (the streaming validator carries state between reads).
    [Theory]
    [InlineData("61 F0 9F 98 80 62")]
    [InlineData("E2 82 AC E2 82 AC")]
    public async Task Valid_text_frame_sent_one_byte_per_write_echoes(string hex)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var text = Hex(hex);
        await SendInPiecesAsync(c, RawClient.Frame(Text, text), 1);
        await ExpectEchoAsync(c, Text, text);
    }

    public static TheoryData<string, int> InvalidSplits()
    {
        var d = new TheoryData<string, int>();
        foreach (var hex in new[] { "61 ED A0 80 62", "61 F4 90 80 80 62", "61 C0 AF 62", "61 80 62", "61 E2 82 62", "61 F0 9F 98" })
            for (int at = 0; at <= Hex(hex).Length; at++)
                d.Add(hex, at);
        return d;
    }

    [Theory]
    [MemberData(nameof(InvalidSplits))]
    public async Task Invalid_text_split_across_two_fragments_is_1007(string hex, int splitAt)
    {
        var text = Hex(hex);
        await ExpectFailureAsync(async c =>
        {
            await c.SendAsync(RawClient.Frame(Text, text.AsSpan(0, splitAt), fin: false));
            await c.SendAsync(RawClient.Frame(Continuation, text.AsSpan(splitAt)));
        }, 1007);
    }

    // Fail fast (§8.1): a first fragment whose bytes are already invalid is failed at once, without waiting for the rest of the message.
    [Theory]
    [InlineData("ED A0 80")]
    [InlineData("41 42 F4 90 80 80")]
    [InlineData("C0 80")]
    [InlineData("80")]
    [InlineData("41 F5")]
    [InlineData("E0 80")]
    [InlineData("CE BA E1 BD B9 CF 83 CE BC CE B5 ED A0 80 65 64 69 74 65 64")]
    public async Task Invalid_first_fragment_fails_without_waiting_for_the_rest(string hex)
        => await ExpectFailureAsync(c => c.SendAsync(RawClient.Frame(Text, Hex(hex), fin: false)), 1007, timeout: Short);

    [Fact]
    public async Task Invalid_bytes_split_over_two_unfinished_fragments_fail_fast()
        => await ExpectFailureAsync(async c =>
        {
            await c.SendAsync(RawClient.Frame(Text, Hex("41 ED"), fin: false));
            await c.SendAsync(RawClient.Frame(Continuation, Hex("A0 80 41"), fin: false));
        }, 1007, timeout: Short);

    // Fail fast inside one frame: the header declares 1000 bytes, only an invalid prefix is sent.
    [Theory]
    [InlineData("C0")]
    [InlineData("41 42 43 ED A0")]
    [InlineData("F4 90")]
    [InlineData("41 80")]
    [InlineData("E0 80")]
    [InlineData("FF")]
    public async Task Text_frame_whose_received_prefix_is_invalid_fails_without_waiting_for_the_rest(string hex)
    {
        var prefix = Hex(hex);
        await ExpectFailureAsync(c => c.SendAsync(Concat(Header(Text, 1000), Mask(prefix))), 1007, timeout: Short);
    }

    // Same, with a large valid prefix before the bad byte, sent in two writes.
    [Fact]
    public async Task Text_frame_invalid_after_a_long_valid_prefix_fails_without_waiting_for_the_rest()
        => await ExpectFailureAsync(async c =>
        {
            var prefix = Payload(Text, 5000);
            await c.SendAsync(Concat(Header(Text, 100_000), Mask(prefix)));
            await c.SendAsync(Mask(Hex("C3 28"), offset: prefix.Length));
        }, 1007, timeout: Short);
}
