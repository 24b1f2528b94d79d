using System.Buffers;
using System.Text;
using System.Text.Unicode;
using Gateway.Protocol.WebSockets;

namespace Gateway.Protocol.Tests;

public class Utf8ValidatorTests
{
    // "κόσμε", the Autobahn test string (CE BA E1 BD B9 CF 83 CE BC CE B5).
    private const string Kosme = "CEBAE1BDB9CF83CEBCCEB5";

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    /// <summary>Feeds the pieces in order; the verdict for the whole text (valid and complete).</summary>
    private static bool Incremental(params byte[][] pieces)
    {
        var v = new Utf8Validator();
        foreach (var piece in pieces)
        {
            if (!v.Append(piece)) return false;
        }
        return v.IsAtBoundary;
    }

    // ---------------------------------------------------------------- fixed cases

    [Theory]
    [InlineData("")]
    [InlineData("68656C6C6F")]                    // hello
    [InlineData("00")]                            // U+0000
    [InlineData("7F")]                            // U+007F
    [InlineData("C280")]                          // U+0080, smallest 2-byte
    [InlineData("C3A9")]                          // é
    [InlineData("DFBF")]                          // U+07FF, largest 2-byte
    [InlineData("E0A080")]                        // U+0800, smallest 3-byte
    [InlineData("E282AC")]                        // €
    [InlineData("ED9FBF")]                        // U+D7FF, just below the surrogates
    [InlineData("EE8080")]                        // U+E000, just above the surrogates
    [InlineData("EFBFBF")]                        // U+FFFF
    [InlineData("EFBBBF")]                        // BOM, valid as a character
    [InlineData("F0908080")]                      // U+10000, smallest 4-byte
    [InlineData("F09F9880")]                      // 😀
    [InlineData("F48FBFBF")]                      // U+10FFFF
    [InlineData(Kosme)]
    [InlineData("41C3A9E282ACF09F988042")]        // mixed widths
    public void Valid_sequences_are_accepted(string hex)
    {
        var data = Hex(hex);
        Assert.True(Utf8.IsValid(data)); // the fixture itself
        var v = new Utf8Validator();
        Assert.True(v.Append(data));
        Assert.True(v.IsAtBoundary);
        Assert.True(Utf8Validator.IsValid(data));
    }

    [Theory]
    [InlineData("C080")]                          // overlong NUL
    [InlineData("C1BF")]                          // overlong 2-byte
    [InlineData("E08080")]                        // overlong 3-byte
    [InlineData("E09FBF")]                        // overlong 3-byte (U+07FF)
    [InlineData("F0808080")]                      // overlong 4-byte
    [InlineData("F08FBFBF")]                      // overlong 4-byte (U+FFFF)
    [InlineData("EDA080")]                        // U+D800 surrogate
    [InlineData("EDBFBF")]                        // U+DFFF surrogate
    [InlineData("EDAFBFEDB080")]                  // surrogate pair encoded as CESU-8
    [InlineData("F4908080")]                      // U+110000
    [InlineData("F7BFBFBF")]                      // U+1FFFFF
    [InlineData("F5808080")]
    [InlineData("F6")]
    [InlineData("F8888080")]                      // old 5-byte form
    [InlineData("FC8480808080")]                  // old 6-byte form
    [InlineData("FE")]
    [InlineData("FF")]
    [InlineData("80")]                            // lone continuation
    [InlineData("BF")]
    [InlineData("418042")]                        // continuation after ASCII
    [InlineData("C341")]                          // 2-byte lead followed by ASCII
    [InlineData("E28241")]                        // 3-byte sequence cut by ASCII
    [InlineData("F09F9841")]                      // 4-byte sequence cut by ASCII
    [InlineData("C3C3A9")]                        // lead followed by lead
    [InlineData("C3A9A9")]                        // one continuation too many
    [InlineData(Kosme + "EDA080" + "656469746564")] // Autobahn 6.x: κόσμε + surrogate + "edited"
    public void Invalid_sequences_are_rejected(string hex)
    {
        var data = Hex(hex);
        Assert.False(Utf8.IsValid(data)); // the fixture itself
        var v = new Utf8Validator();
        Assert.False(v.Append(data));
        Assert.False(Utf8Validator.IsValid(data));
    }

    [Theory]
    [InlineData("C3")]
    [InlineData("CE")]
    [InlineData("E282")]
    [InlineData("E2")]
    [InlineData("F09F98")]
    [InlineData("F09F")]
    [InlineData("F0")]
    [InlineData("F48FBF")]
    [InlineData("ED9F")]
    [InlineData("E0A0")]
    [InlineData("41C3")]
    [InlineData("CEBAE1BDB9CF83CEBCCE")]          // κόσμε without its last byte
    public void Truncated_sequence_at_end_is_accepted_but_not_at_boundary(string hex)
    {
        var v = new Utf8Validator();
        Assert.True(v.Append(Hex(hex)));
        Assert.False(v.IsAtBoundary);
    }

    [Theory]
    [InlineData("F490")]                          // can only continue above U+10FFFF
    [InlineData("EDA0")]                          // can only continue as a surrogate
    [InlineData("E080")]                          // can only continue as an overlong
    [InlineData("E09F")]
    [InlineData("F080")]
    [InlineData("F08F")]
    [InlineData("C0")]
    [InlineData("C1")]
    [InlineData("F5")]
    [InlineData("FF")]
    [InlineData("80")]
    public void Fails_fast_on_a_prefix_that_cannot_become_valid(string hex)
    {
        var data = Hex(hex);

        var whole = new Utf8Validator();
        Assert.False(whole.Append(data));

        // Same verdict when the bad prefix sits at the end of a longer (vectorized) piece.
        var longPiece = Frames.Concat(Encoding.ASCII.GetBytes(new string('a', 100)), data);
        var inLong = new Utf8Validator();
        Assert.False(inLong.Append(longPiece));

        // And when it arrives one byte at a time: false no later than its last byte.
        var bytewise = new Utf8Validator();
        bool ok = true;
        foreach (byte b in data) ok &= bytewise.Append([b]);
        Assert.False(ok);
    }

    [Fact]
    public void Lone_lead_byte_is_accepted_and_not_at_boundary()
    {
        var v = new Utf8Validator();
        Assert.True(v.Append([0xCE]));
        Assert.False(v.IsAtBoundary);
        Assert.True(v.Append([0xBA]));
        Assert.True(v.IsAtBoundary);
    }

    [Fact]
    public void F4_90_split_over_two_appends_fails_on_the_second()
    {
        var v = new Utf8Validator();
        Assert.True(v.Append(Frames.Concat(Encoding.ASCII.GetBytes(new string('x', 80)), [0xF4])));
        Assert.False(v.IsAtBoundary);
        Assert.False(v.Append([0x90]));
    }

    [Fact]
    public void Stays_rejected_after_a_failure_until_reset()
    {
        var v = new Utf8Validator();
        Assert.False(v.Append([0xFF]));
        Assert.False(v.Append("hello"u8));
        Assert.False(v.IsAtBoundary);
        v.Reset();
        Assert.True(v.IsAtBoundary);
        Assert.True(v.Append("hello"u8));
        Assert.True(v.IsAtBoundary);
    }

    [Fact]
    public void Reset_forgets_a_partial_sequence()
    {
        var v = new Utf8Validator();
        Assert.True(v.Append([0xE2, 0x82]));
        Assert.False(v.IsAtBoundary);
        v.Reset();
        Assert.True(v.IsAtBoundary);
        Assert.False(v.Append([0xAC])); // a continuation byte on its own is invalid after the reset
    }

    [Fact]
    public void Empty_append_changes_nothing()
    {
        var v = new Utf8Validator();
        Assert.True(v.Append(ReadOnlySpan<byte>.Empty));
        Assert.True(v.IsAtBoundary);
        Assert.True(v.Append([0xF0, 0x9F]));
        Assert.True(v.Append(ReadOnlySpan<byte>.Empty));
        Assert.False(v.IsAtBoundary);
        Assert.True(v.Append([0x98, 0x80]));
        Assert.True(v.IsAtBoundary);
    }

    // ---------------------------------------------------------------- property-style: split anywhere

    public static readonly string[] Corpus =
    [
        "",
        "41",
        Kosme,
        Kosme + "EDA080" + "656469746564",          // κόσμε + surrogate + "edited"
        Kosme + "656469746564",                     // κόσμε + "edited"
        "CEBAE1BDB9CF83CEBCCE",                     // truncated κόσμε
        "CEBAE1BDB9CF83CEBCCEB5C0",                 // κόσμε + stray lead
        "CEBAE1BDB9CF83CEBCCEB580",                 // κόσμε + stray continuation
        "CEBAE1BDB9CF83CEBCCEB5F4908080",           // κόσμε + above U+10FFFF
        "CEBAE1BDB9CF83CEBCCEB5F48FBFBF",           // κόσμε + U+10FFFF
        "CEBAE1BDB9CFCEBCCEB5",                     // κόσμε with a continuation removed
        "CEBAE1BDB9CF83CE83BCCEB5",                 // κόσμε with a continuation added
        "CEBAE1BDFFCF83CEBCCEB5",                   // κόσμε with a byte replaced by FF
        "CEBAE1BD41CF83CEBCCEB5",                   // κόσμε with a byte replaced by ASCII
        "C080", "E08080", "F0808080", "EDA080", "EDBFBF", "F4908080", "F5", "FF", "80",
        "E0A080", "ED9FBF", "EE8080", "EFBFBF", "F0908080", "F48FBFBF",
        "F09F9880F09F9881F09F9882",
        "F09F98", "E282", "C3",
        "41F09F98", "41F09F9841", "F09F98E282AC",
        "EDAFBFEDB080",
        "F8888080", "FC8480808080",
        "E282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282AC",
        "E282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282",
        "E282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACEDA080E282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282ACE282AC",
    ];

    public static TheoryData<string> CorpusData()
    {
        var data = new TheoryData<string>();
        foreach (var s in Corpus) data.Add(s);
        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusData))]
    public void Split_at_every_position_gives_the_same_verdict_as_Utf8_IsValid(string hex)
    {
        var data = Hex(hex);
        bool expected = Utf8.IsValid(data);

        Assert.Equal(expected, Incremental(data));
        for (int i = 0; i <= data.Length; i++)
        {
            Assert.True(expected == Incremental(data[..i], data[i..]), $"split at {i}");
        }
        Assert.Equal(expected, Incremental(data.Select(b => new[] { b }).ToArray()));

        // Every three-way split of the short inputs.
        if (data.Length <= 40)
        {
            for (int i = 0; i <= data.Length; i++)
                for (int j = i; j <= data.Length; j++)
                    Assert.True(expected == Incremental(data[..i], data[i..j], data[j..]), $"split at {i},{j}");
        }

        // The ReadOnlySequence overload, one and two segments.
        var one = new Utf8Validator();
        Assert.Equal(expected, one.Append(new ReadOnlySequence<byte>(data)) && one.IsAtBoundary);
        for (int i = 0; i <= data.Length; i++)
        {
            var two = new Utf8Validator();
            Assert.True(expected == (two.Append(BufferSegment.Split(data, i)) && two.IsAtBoundary), $"sequence split at {i}");
        }
    }

    [Theory]
    [MemberData(nameof(CorpusData))]
    public void Byte_at_a_time_fails_at_the_first_byte_that_cannot_start_or_continue_valid_text(string hex)
    {
        var data = Hex(hex);
        int expectedFailure = FirstImpossiblePrefix(data);
        var v = new Utf8Validator();
        int actualFailure = -1;
        for (int i = 0; i < data.Length; i++)
        {
            if (!v.Append(data.AsSpan(i, 1))) { actualFailure = i; break; }
        }
        Assert.Equal(expectedFailure, actualFailure);
    }

    [Fact]
    public void Fail_fast_matches_the_reference_on_random_inputs()
    {
        var rng = new Random(4242);
        for (int n = 0; n < 300; n++)
        {
            var data = RandomText(rng, rng.Next(0, 40), corrupt: rng.Next(2) == 0);
            int expectedFailure = FirstImpossiblePrefix(data);
            // Fed whole: false exactly when some prefix is impossible; otherwise the boundary decides.
            var whole = new Utf8Validator();
            bool wholeOk = whole.Append(data);
            Assert.True((expectedFailure < 0) == wholeOk, Convert.ToHexString(data));
            // Fed as two pieces: the first piece alone is rejected iff it already holds an impossible prefix.
            for (int i = 0; i <= data.Length; i++)
            {
                var v = new Utf8Validator();
                bool first = v.Append(data.AsSpan(0, i));
                Assert.True((expectedFailure < 0 || expectedFailure >= i) == first, $"{Convert.ToHexString(data)} prefix {i}");
            }
        }
    }

    // ---------------------------------------------------------------- long inputs (vectorized path)

    private static byte[] LongValidText()
    {
        // 3 x (ASCII run + 2-, 3- and 4-byte characters), about 300 bytes.
        var sb = new StringBuilder();
        for (int i = 0; i < 3; i++)
        {
            sb.Append("The quick brown fox jumps over the lazy dog 0123456789. ");
            sb.Append("κόσμε ü ß € ✓ 𝄞 😀 ");
        }
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public static TheoryData<int> LongPositions()
    {
        var d = new TheoryData<int>();
        int len = LongValidText().Length;
        foreach (int p in new[] { 0, 1, 15, 16, 31, 32, 33, 63, 64, 65, 100, 127, 128, len / 2, len - 4, len - 3, len - 2, len - 1 })
            d.Add(p);
        return d;
    }

    [Fact]
    public void Long_valid_text_is_accepted_whole_and_at_every_split()
    {
        var data = LongValidText();
        Assert.True(data.Length > 64);
        Assert.True(Incremental(data));
        for (int i = 0; i <= data.Length; i++) Assert.True(Incremental(data[..i], data[i..]), $"split at {i}");
    }

    [Theory]
    [MemberData(nameof(LongPositions))]
    public void Long_text_with_a_bad_byte_is_rejected(int position)
    {
        var valid = LongValidText();
        foreach (byte bad in new byte[] { 0xFF, 0xC0, 0xF5, 0x80 })
        {
            // Overwrite the byte at position.
            var replaced = valid.ToArray();
            replaced[position] = bad;
            Check(replaced);

            // Insert the byte at position.
            var inserted = Frames.Concat(valid[..position], [bad], valid[position..]);
            Check(inserted);
        }

        // Surrogate and above-U+10FFFF sequences inserted whole.
        Check(Frames.Concat(valid[..position], [0xED, 0xA0, 0x80], valid[position..]));
        Check(Frames.Concat(valid[..position], [0xF4, 0x90, 0x80, 0x80], valid[position..]));

        static void Check(byte[] data)
        {
            bool expected = Utf8.IsValid(data);
            Assert.Equal(expected, Incremental(data));
            foreach (int split in new[] { 1, 17, 33, 64, data.Length / 2, data.Length - 2, data.Length - 1 })
                Assert.Equal(expected, Incremental(data[..split], data[split..]));
        }
    }

    [Fact]
    public void Long_text_ending_in_a_truncated_or_impossible_sequence()
    {
        var valid = Encoding.ASCII.GetBytes(new string('a', 100));
        // Truncated at the end: accepted, not at a boundary.
        foreach (var tail in new[] { "C3", "E282", "F09F98", "F48FBF", "ED9F", "E0A0" })
        {
            var v = new Utf8Validator();
            Assert.True(v.Append(Frames.Concat(valid, Hex(tail))), tail);
            Assert.False(v.IsAtBoundary, tail);
        }
        // Impossible already: rejected.
        foreach (var tail in new[] { "F490", "EDA0", "E080", "F080", "C0", "F5", "FF", "C3C3", "E2C3" })
        {
            var v = new Utf8Validator();
            var input = Frames.Concat(valid, Hex(tail));
            Assert.False(v.Append(input), tail);
        }
    }

    [Fact]
    public void Random_long_inputs_agree_with_Utf8_IsValid_at_every_split()
    {
        var rng = new Random(12345);
        for (int n = 0; n < 120; n++)
        {
            var data = RandomText(rng, rng.Next(65, 260), corrupt: n % 2 == 1);
            bool expected = Utf8.IsValid(data);
            Assert.Equal(expected, Incremental(data));
            for (int i = 0; i <= data.Length; i++)
                Assert.True(expected == Incremental(data[..i], data[i..]), $"{Convert.ToHexString(data)} split at {i}");
        }
    }

    // ---------------------------------------------------------------- reference helpers

    /// <summary>Random characters of every width; when corrupting, one byte is overwritten, inserted or removed.</summary>
    private static byte[] RandomText(Random rng, int approxLength, bool corrupt)
    {
        var bytes = new List<byte>();
        Span<byte> buf = stackalloc byte[4];
        while (bytes.Count < approxLength)
        {
            int width = rng.Next(4);
            int cp = width switch
            {
                0 => rng.Next(0x00, 0x80),
                1 => rng.Next(0x80, 0x800),
                2 => rng.Next(0x800, 0x10000),
                _ => rng.Next(0x10000, 0x110000),
            };
            if (cp is >= 0xD800 and <= 0xDFFF) cp = 0xFFFD;
            int n = new Rune(cp).EncodeToUtf8(buf);
            for (int i = 0; i < n; i++) bytes.Add(buf[i]);
        }
        if (corrupt && bytes.Count > 0)
        {
            int at = rng.Next(bytes.Count);
            byte[] nasty = [0x80, 0xBF, 0xC0, 0xC1, 0xC3, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF, 0x41, 0xA0, 0x90];
            byte b = nasty[rng.Next(nasty.Length)];
            switch (rng.Next(3))
            {
                case 0: bytes[at] = b; break;
                case 1: bytes.Insert(at, b); break;
                default: bytes.RemoveAt(at); break;
            }
        }
        return bytes.ToArray();
    }

    private static readonly HashSet<string> IncompletePrefixes = BuildIncompletePrefixes();

    /// <summary>Every proper, non-empty prefix of the UTF-8 encoding of every scalar value.</summary>
    private static HashSet<string> BuildIncompletePrefixes()
    {
        var set = new HashSet<string>();
        Span<byte> buf = stackalloc byte[4];
        for (int cp = 0x80; cp <= 0x10FFFF; cp++)
        {
            if (cp is >= 0xD800 and <= 0xDFFF) continue;
            int n = new Rune(cp).EncodeToUtf8(buf);
            for (int k = 1; k < n; k++) set.Add(Convert.ToHexString(buf[..k]));
        }
        return set;
    }

    /// <summary>True when some continuation could still make <paramref name="prefix"/> valid UTF-8.</summary>
    private static bool IsPossiblePrefix(ReadOnlySpan<byte> prefix)
    {
        for (int t = 0; t <= 3 && t <= prefix.Length; t++)
        {
            var head = prefix[..^t];
            if (!Utf8.IsValid(head)) continue;
            if (t == 0 || IncompletePrefixes.Contains(Convert.ToHexString(prefix[^t..]))) return true;
        }
        return false;
    }

    /// <summary>The index of the byte after which the text can no longer be valid, or -1.</summary>
    private static int FirstImpossiblePrefix(byte[] data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (!IsPossiblePrefix(data.AsSpan(0, i + 1))) return i;
        }
        return -1;
    }
}
