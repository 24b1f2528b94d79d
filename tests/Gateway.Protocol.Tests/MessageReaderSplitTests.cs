using System.Buffers;
using System.Text;
using Gateway.Protocol.WebSockets;

namespace Gateway.Protocol.Tests;

/// <summary>
/// The reader must produce the same events wherever the transport happens to cut the byte stream:
/// between two Read calls (PipeReader style) or between two segments of one sequence.
/// </summary>
public class MessageReaderSplitTests
{
    private sealed record Case(byte[] Bytes, List<ReadEvent> Expected);

    private static readonly byte[] Mask = [0x9C, 0x01, 0x7E, 0xE3];

    private static readonly Dictionary<string, Case> Cases = BuildCases();

    private static Dictionary<string, Case> BuildCases()
    {
        var cases = new Dictionary<string, Case>();

        var hello = Encoding.UTF8.GetBytes("Hello, κόσμε");
        cases["small text"] = new(Frames.Masked(true, Opcode.Text, hello, Mask), [ReadEvent.Message(Opcode.Text, hello)]);

        var bin200 = Frames.RandomBytes(200, 200);
        cases["200-byte binary, 16-bit length"] = new(Frames.Masked(true, Opcode.Binary, bin200, Mask), [ReadEvent.Message(Opcode.Binary, bin200)]);

        var bin70k = Frames.RandomBytes(70000, 70000);
        cases["70000-byte binary, 64-bit length"] = new(Frames.Masked(true, Opcode.Binary, bin70k, Mask), [ReadEvent.Message(Opcode.Binary, bin70k)]);

        var text70k = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("κόσμε € 😀 abc ", 3500)));
        cases["large text, 64-bit length"] = new(Frames.Masked(true, Opcode.Text, text70k, Mask), [ReadEvent.Message(Opcode.Text, text70k)]);

        var frag = Encoding.UTF8.GetBytes("fragments: κόσμε € 😀 end");
        cases["fragmented text with ping"] = new(
            Frames.Concat(
                Frames.Masked(false, Opcode.Text, frag[..13], Mask),        // cuts κ in half
                Frames.Masked(true, Opcode.Ping, "are you there"u8),
                Frames.Masked(false, Opcode.Continuation, frag[13..28], Mask),
                Frames.Masked(true, Opcode.Pong, []),
                Frames.Masked(true, Opcode.Continuation, frag[28..])),
            [ReadEvent.Ping("are you there"u8.ToArray()), ReadEvent.Pong([]), ReadEvent.Message(Opcode.Text, frag)]);

        var mixed1 = Frames.RandomBytes(130, 1);
        cases["several frames and close"] = new(
            Frames.Concat(
                Frames.Masked(true, Opcode.Text, "a"u8),
                Frames.Masked(true, Opcode.Binary, mixed1, Mask),
                Frames.Masked(true, Opcode.Text, []),
                Frames.Masked(false, Opcode.Binary, mixed1[..5]),
                Frames.Masked(true, Opcode.Continuation, mixed1[5..]),
                Frames.Close(1000, "done"u8)),
            [
                ReadEvent.Message(Opcode.Text, "a"u8.ToArray()),
                ReadEvent.Message(Opcode.Binary, mixed1),
                ReadEvent.Message(Opcode.Text, []),
                ReadEvent.Message(Opcode.Binary, mixed1),
                ReadEvent.Close(1000, "done"u8.ToArray()),
            ]);

        cases["invalid utf-8 in first fragment"] = new(
            Frames.Concat(
                Frames.Masked(false, Opcode.Text, Frames.Concat("ok "u8.ToArray(), [0xFF], "more"u8.ToArray())),
                Frames.Masked(true, Opcode.Continuation, "rest"u8)),
            [ReadEvent.Error(CloseCodes.InvalidPayload)]);

        return cases;
    }

    public static TheoryData<string> CaseNames()
    {
        var d = new TheoryData<string>();
        foreach (var name in Cases.Keys) d.Add(name);
        return d;
    }

    /// <summary>All split points for small inputs; a sample (every 997th, first and last 20) for large ones.</summary>
    private static IEnumerable<int> SplitPoints(int length)
    {
        if (length <= 2000) return Enumerable.Range(0, length + 1);
        return Enumerable.Range(0, 21)
            .Concat(Enumerable.Range(length - 20, 21))
            .Concat(Enumerable.Range(0, length / 997 + 1).Select(i => i * 997))
            .Concat([2, 4, 6, 10, 14, 15, 16]) // inside and just past the 14-byte header
            .Where(i => i >= 0 && i <= length)
            .Distinct()
            .Order();
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Unsplit_input_gives_the_expected_events(string name)
    {
        var c = Cases[name];
        Assert.Equal(c.Expected, ReaderDriver.ReadWhole(c.Bytes));
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Two_successive_reads_split_at_every_position(string name)
    {
        var c = Cases[name];
        foreach (int split in SplitPoints(c.Bytes.Length))
        {
            var events = ReaderDriver.ReadIncrementally([c.Bytes[..split], c.Bytes[split..]]);
            Assert.True(c.Expected.SequenceEqual(events), $"split at {split}: got [{string.Join("; ", events)}]");
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void One_two_segment_sequence_split_at_every_position(string name)
    {
        var c = Cases[name];
        foreach (int split in SplitPoints(c.Bytes.Length))
        {
            using var reader = new MessageReader(1 << 20);
            var buffer = BufferSegment.Split(c.Bytes, split);
            var events = ReaderDriver.Drain(reader, ref buffer);
            Assert.True(c.Expected.SequenceEqual(events), $"split at {split}: got [{string.Join("; ", events)}]");
            if (c.Expected[^1].Kind != FrameEvent.Error) Assert.Equal(0, buffer.Length);
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Three_successive_reads_at_sampled_positions(string name)
    {
        var c = Cases[name];
        int n = c.Bytes.Length;
        var points = SplitPoints(n).Where((_, i) => i % 3 == 0).ToArray();
        foreach (int a in points)
        {
            foreach (int b in new[] { a, a + 1, a + 7, (a + n) / 2, n - 1, n }.Where(b => b >= a && b <= n).Distinct())
            {
                var events = ReaderDriver.ReadIncrementally([c.Bytes[..a], c.Bytes[a..b], c.Bytes[b..]]);
                Assert.True(c.Expected.SequenceEqual(events), $"split at {a},{b}: got [{string.Join("; ", events)}]");
            }
        }
    }

    [Theory]
    [InlineData("small text")]
    [InlineData("200-byte binary, 16-bit length")]
    [InlineData("fragmented text with ping")]
    [InlineData("several frames and close")]
    [InlineData("invalid utf-8 in first fragment")]
    public void One_byte_per_read_and_one_byte_per_segment(string name)
    {
        var c = Cases[name];
        var single = c.Bytes.Select(b => new[] { b }).ToArray();
        Assert.Equal(c.Expected, ReaderDriver.ReadIncrementally(single));

        using var reader = new MessageReader(1 << 20);
        var buffer = BufferSegment.Create(single);
        Assert.Equal(c.Expected, ReaderDriver.Drain(reader, ref buffer));
    }
}
