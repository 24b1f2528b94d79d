using System.Buffers;
using System.IO.Compression;
using System.Text;
using Gateway.Protocol.Compression;
using Gateway.Protocol.WebSockets;

namespace Gateway.Protocol.Tests;

/// <summary>
/// The receive side of permessage-deflate in the frame reader: compressed messages cut anywhere by the transport,
/// the inflated-size limit, the inflater's memory counted as reassembly bytes while a message is incomplete, and
/// nothing held between messages without context takeover.
/// </summary>
public class MessageReaderDeflateTests
{
    private static readonly PerMessageDeflate Deflate = new(new PerMessageDeflateSettings());
    private static readonly PerMessageDeflateParameters NoContext = new(true, true, 15, 15, "permessage-deflate");

    private static byte[] Compress(byte[] data)
    {
        var ms = new MemoryStream();
        using var d = new DeflateStream(ms, CompressionLevel.Optimal, leaveOpen: true);
        d.Write(data);
        d.Flush();
        return ms.ToArray()[..^4];
    }

    private static readonly byte[] Text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"user\":\"κόσμε\",\"text\":\"€ 😀 hello\"},", 40)));

    [Fact]
    public void A_compressed_message_cut_at_every_byte_reads_the_same()
    {
        var compressed = Compress(Text);
        int half = compressed.Length / 2;
        var original = Frames.Concat(
            Frames.Masked(false, Opcode.Text, compressed[..half], rsv: 4),
            Frames.Masked(true, Opcode.Ping, "p"u8),
            Frames.Masked(true, Opcode.Continuation, compressed[half..]));
        for (int split = 0; split <= original.Length; split++)
        {
            var bytes = original.ToArray(); // unmasked in place: a fresh copy per cut
            using var reader = new MessageReader(1 << 20, inflater: Deflate.CreateInflater(NoContext));
            var first = new ReadOnlySequence<byte>(bytes, 0, split);
            var events = new List<FrameEvent>();
            byte[]? message = null;
            FrameEvent ev;
            while ((ev = reader.Read(ref first)) != FrameEvent.NeedMoreData) { events.Add(ev); if (ev == FrameEvent.Message) { message = reader.Payload.ToArray(); reader.ReleaseMessage(); } }
            // The unconsumed rest of the first read comes again with the remaining bytes, as a pipe would give it.
            long consumed = split - first.Length;
            var rest = new ReadOnlySequence<byte>(bytes, (int)consumed, bytes.Length - (int)consumed);
            while ((ev = reader.Read(ref rest)) != FrameEvent.NeedMoreData) { events.Add(ev); if (ev == FrameEvent.Message) { message = reader.Payload.ToArray(); reader.ReleaseMessage(); } }
            Assert.True(events.SequenceEqual([FrameEvent.Ping, FrameEvent.Message]), $"cut at {split}: {string.Join(",", events)} ({reader.ErrorReason})");
            Assert.Equal(Text, message);
            Assert.Equal(0, reader.HeldBytes);
        }
    }

    [Fact]
    public void An_incomplete_compressed_message_counts_its_inflater_and_gives_everything_back()
    {
        var budget = new ReassemblyBudget();
        var inflater = Deflate.CreateInflater(NoContext);
        using var reader = new MessageReader(1 << 20, budget: budget, inflater: inflater);
        var compressed = Compress(Text);
        var first = new ReadOnlySequence<byte>(Frames.Masked(false, Opcode.Text, compressed[..10], rsv: 4));
        Assert.Equal(FrameEvent.NeedMoreData, reader.Read(ref first));
        Assert.True(reader.HoldsInflateState);
        Assert.True(reader.HeldBytes >= inflater.StateBytes, $"held {reader.HeldBytes}");
        Assert.Equal(reader.HeldBytes, budget.HeldBytes);
        var last = new ReadOnlySequence<byte>(Frames.Masked(true, Opcode.Continuation, compressed[10..]));
        Assert.Equal(FrameEvent.Message, reader.Read(ref last));
        Assert.Equal(Text, reader.Payload.ToArray());
        reader.ReleaseMessage();
        Assert.False(reader.HoldsInflateState);
        Assert.False(inflater.HoldsState);
        Assert.Equal(0, reader.HeldBytes);
        Assert.Equal(0, budget.HeldBytes);
    }

    [Fact]
    public void The_inflated_size_limit_fails_with_1009_without_growing_past_it()
    {
        const int Limit = 4096;
        var budget = new ReassemblyBudget();
        using var reader = new MessageReader(Limit, budget: budget, inflater: Deflate.CreateInflater(NoContext));
        var big = new byte[Limit * 64];
        var seq = new ReadOnlySequence<byte>(Frames.Masked(true, Opcode.Binary, Compress(big), rsv: 4));
        Assert.Equal(FrameEvent.Error, reader.Read(ref seq));
        Assert.Equal(CloseCodes.MessageTooBig, reader.ErrorCloseCode);
        Assert.True(reader.HeldBytes <= Limit * 2 + Deflate.CreateInflater(NoContext).StateBytes, $"held {reader.HeldBytes}");
    }

    [Fact]
    public void Without_a_negotiated_inflater_rsv1_is_1002()
    {
        using var reader = new MessageReader(1 << 20);
        var seq = new ReadOnlySequence<byte>(Frames.Masked(true, Opcode.Text, Compress(Text), rsv: 4));
        Assert.Equal(FrameEvent.Error, reader.Read(ref seq));
        Assert.Equal(CloseCodes.ProtocolError, reader.ErrorCloseCode);
    }
}
