using System.Buffers;
using Gateway.Protocol.Rpc;
using MessagePack;

namespace Gateway.Protocol.Tests;

/// <summary>
/// gateway.v1.msgpack envelopes are read by a span reader with the library's MessagePackReader behind it for anything
/// unusual (<see cref="MessagePackEnvelope.Parse"/>). These tests hold the two to one answer: for every message of a
/// corpus (each member kind, every id and path form, nesting at the depth limit, each MessagePack type in an input),
/// every truncation of it and a bounded set of byte mutations, Parse gives exactly the envelope
/// <see cref="MessagePackEnvelope.ParseWithReader"/> gives (kind, problem, every slice's bytes, path, cancel, meta),
/// and the span reader really is the path the ordinary messages take.
/// </summary>
public sealed class MessagePackEnvelopeSpanTests
{
    private const int MaxDepth = 8;

    private delegate void Write(ref MessagePackWriter w);

    private static byte[] Pack(Write write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var w = new MessagePackWriter(buffer);
        write(ref w);
        w.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static void Nested(ref MessagePackWriter w, int levels, bool map)
    {
        if (levels == 0) { w.Write(7); return; }
        if (map) { w.WriteMapHeader(1); w.Write("k"); }
        else w.WriteArrayHeader(1);
        Nested(ref w, levels - 1, map);
    }

    /// <summary>Messages the span reader must take, and many it must hand over.</summary>
    private static IEnumerable<byte[]> Corpus()
    {
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(3); w.Write("id"); w.Write(1); w.Write("path"); w.Write("echo/echo"); w.Write("input"); w.WriteMapHeader(1); w.Write("text"); w.Write(new string('x', 53)); });
        foreach (long id in new long[] { 0, 127, 128, 255, 256, 65535, 65536, uint.MaxValue, (long)uint.MaxValue + 1, long.MaxValue, -1, -32, -33, -128, -129, -32768, -32769, int.MinValue, long.MinValue })
            yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(id); w.Write("path"); w.Write("a/b"); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(ulong.MaxValue); w.Write("path"); w.Write("a/b"); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write((ulong)long.MaxValue); w.Write("path"); w.Write("a/b"); });
        foreach (string id in new[] { "", "100000000001", new string('i', 31), new string('i', 32), new string('i', 128), new string('i', 129), "é", new string('é', 128), new string('é', 129), "\u6f22\u5b57" })
            yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(id); w.Write("path"); w.Write("a/b"); });
        foreach (string path in new[] { "", "x", new string('p', 256), new string('p', 257), "caf\u00e9/menu", "\u6f22/\u5b57" })
            yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write("k"); w.Write("path"); w.Write(path); });
        // Invalid UTF-8 in the path and in a string id.
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(3); w.Write("path"); w.WriteString(new byte[] { (byte)'a', 0xff, (byte)'b' }); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.WriteString(new byte[] { 0xc3, 0x28 }); w.Write("path"); w.Write("a/b"); });
        // A notification, replies, a cancel, progress.
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("path"); w.Write("chat/typing"); w.Write("input"); w.WriteNil(); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(9); w.Write("result"); w.WriteArrayHeader(3); w.Write(1); w.Write("two"); w.Write(3.5); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(9); w.Write("error"); w.WriteMapHeader(2); w.Write("code"); w.Write("NOT_FOUND"); w.Write("message"); w.Write("no"); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(9); w.Write("error"); w.Write("not a map"); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(9); w.Write("cancel"); w.Write(true); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(9); w.Write("cancel"); w.Write(false); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(9); w.Write("cancel"); w.Write(1); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(9); w.Write("progress"); w.WriteMapHeader(1); w.Write("pct"); w.Write(50); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(1); w.Write("id"); w.Write(9); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(3); w.Write("id"); w.Write(9); w.Write("path"); w.Write("a/b"); w.Write("result"); w.Write(1); });
        // meta: a map is kept, anything else ignored; unknown members skipped; duplicates: the last one wins.
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(3); w.Write("id"); w.Write(1); w.Write("path"); w.Write("a/b"); w.Write("meta"); w.WriteMapHeader(1); w.Write("traceparent"); w.Write("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(3); w.Write("id"); w.Write(1); w.Write("path"); w.Write("a/b"); w.Write("meta"); w.Write(5); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(4); w.Write("id"); w.Write(1); w.Write("future"); w.WriteArrayHeader(2); w.WriteNil(); w.Write(false); w.Write("path"); w.Write("a/b"); w.Write("id"); w.Write("second"); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(3); w.Write("path"); w.Write("a/b"); w.Write("path"); w.Write("c/d"); w.Write("id"); w.Write(2); });
        // Keys that are not fixstr: str8, and not a string at all.
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(1); w.WriteString(System.Text.Encoding.ASCII.GetBytes(new string('k', 40))); w.Write(2); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(1); w.Write(5); w.Write(2); });
        // Every type in an input, and nesting around the limit (the envelope is level 1, the input level 2).
        yield return Pack((ref MessagePackWriter w) =>
        {
            w.WriteMapHeader(3); w.Write("id"); w.Write(4); w.Write("path"); w.Write("a/b"); w.Write("input");
            w.WriteArrayHeader(14);
            w.WriteNil(); w.Write(true); w.Write(-5); w.Write(300); w.Write(70000L); w.Write(1.5f); w.Write(2.25);
            w.Write(new byte[] { 1, 2, 3 }); w.Write(new byte[300]); w.Write(new string('s', 300)); w.Write(DateTime.UnixEpoch.AddSeconds(5));
            w.WriteExtensionFormat(new ExtensionResult(5, new byte[] { 9, 9, 9 })); w.Write(double.NaN);
            w.WriteMapHeader(2); w.Write(1); w.Write("int key"); w.Write("s"); w.WriteNil();
        });
        for (int levels = MaxDepth - 3; levels <= MaxDepth + 1; levels++)
        {
            int n = levels;
            yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(3); w.Write("id"); w.Write(4); w.Write("path"); w.Write("a/b"); w.Write("input"); Nested(ref w, n, map: true); });
            yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(3); w.Write("id"); w.Write(4); w.Write("path"); w.Write("a/b"); w.Write("result"); Nested(ref w, n, map: false); });
        }
        // map16 at the top, trailing bytes, not a map, the never-used code, a header claiming 2^32 - 1 entries.
        yield return [0xde, 0x00, 0x02, 0xa2, (byte)'i', (byte)'d', 0x01, 0xa4, (byte)'p', (byte)'a', (byte)'t', (byte)'h', 0xa3, (byte)'a', (byte)'/', (byte)'b'];
        yield return [0x82, 0xa2, (byte)'i', (byte)'d', 0x01, 0xa4, (byte)'p', (byte)'a', (byte)'t', (byte)'h', 0xa3, (byte)'a', (byte)'/', (byte)'b', 0xc0];
        yield return [0x93, 0x01, 0x02, 0x03];
        yield return [0xc1];
        yield return [];
        yield return [0xdf, 0xff, 0xff, 0xff, 0xff, 0xa2, (byte)'i', (byte)'d'];
        yield return [0x83, 0xa2, (byte)'i', (byte)'d', 0x01, 0xa4, (byte)'p', (byte)'a', (byte)'t', (byte)'h', 0xa3, (byte)'a', (byte)'/', (byte)'b', 0xa5, (byte)'i', (byte)'n', (byte)'p', (byte)'u', (byte)'t', 0xdd, 0xff, 0xff, 0xff, 0xff];
    }

    private static void AssertSame(byte[] message, string what)
    {
        var sequence = new ReadOnlySequence<byte>(message);
        var fastPath = new char[JsonEnvelope.MaxPathLength];
        var slowPath = new char[JsonEnvelope.MaxPathLength];
        MessagePackEnvelope.Parse(sequence, fastPath, out var fast, MaxDepth);
        MessagePackEnvelope.ParseWithReader(sequence, slowPath, out var slow, MaxDepth);
        string at = $"{what}: {Convert.ToHexString(message)}";
        Assert.True(slow.Problem == fast.Problem, $"{at}: problem '{fast.Problem}' vs '{slow.Problem}'");
        Assert.True(slow.Kind == fast.Kind, $"{at}: kind {fast.Kind} vs {slow.Kind}");
        Assert.True(slow.HasId == fast.HasId && slow.HasInput == fast.HasInput && slow.HasMeta == fast.HasMeta && slow.Cancel == fast.Cancel, $"{at}: flags differ");
        Assert.True(slow.PathLength == fast.PathLength && fastPath.AsSpan(0, fast.PathLength).SequenceEqual(slowPath.AsSpan(0, slow.PathLength)), $"{at}: path differs");
        Assert.True(Same(slow.Id, fast.Id) && Same(slow.Input, fast.Input) && Same(slow.Result, fast.Result) && Same(slow.ErrorObject, fast.ErrorObject) && Same(slow.Meta, fast.Meta), $"{at}: a slice differs");
    }

    private static bool Same(ReadOnlySequence<byte> a, ReadOnlySequence<byte> b) => a.ToArray().AsSpan().SequenceEqual(b.ToArray());

    [Fact]
    public void EveryCorpusMessage_ParsesAsTheLibraryReaderParsesIt()
    {
        int count = 0;
        foreach (var message in Corpus())
        {
            AssertSame(message, "whole");
            count++;
        }
        Assert.True(count > 60, $"the corpus has {count} messages");
    }

    [Fact]
    public void EveryTruncation_ParsesAsTheLibraryReaderParsesIt()
    {
        foreach (var message in Corpus())
            for (int length = 0; length < message.Length; length++)
                AssertSame(message[..length], $"first {length} bytes");
    }

    [Fact]
    public void ByteMutations_ParseAsTheLibraryReaderParsesThem()
    {
        // Deterministic and bounded: each message, 40 mutations of one byte each (a type code, a length, a key byte).
        var random = new Random(12);
        byte[] interesting = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc7, 0xca, 0xcb, 0xcc, 0xcf, 0xd3, 0xd4, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff];
        int mutations = 0;
        foreach (var message in Corpus())
        {
            if (message.Length == 0) continue;
            for (int i = 0; i < 40; i++)
            {
                var mutated = (byte[])message.Clone();
                int at = random.Next(mutated.Length);
                mutated[at] = random.Next(3) == 0 ? (byte)random.Next(256) : interesting[random.Next(interesting.Length)];
                AssertSame(mutated, $"byte {at} set to 0x{mutated[at]:x2}");
                mutations++;
            }
        }
        Assert.True(mutations > 2000);
    }

    [Fact]
    public void OrdinaryRequests_TakeTheSpanReader()
    {
        var request = Corpus().First();
        Assert.True(MessagePackEnvelope.TryParseSpan(new ReadOnlySequence<byte>(request), new char[JsonEnvelope.MaxPathLength], out var e, MaxDepth));
        Assert.Equal(EnvelopeKind.Request, e.Kind);
        var stringId = Pack((ref MessagePackWriter w) => { w.WriteMapHeader(3); w.Write("id"); w.Write("100000000001"); w.Write("path"); w.Write("echo/echo"); w.Write("input"); w.WriteMapHeader(1); w.Write("text"); w.Write("hi"); });
        Assert.True(MessagePackEnvelope.TryParseSpan(new ReadOnlySequence<byte>(stringId), new char[JsonEnvelope.MaxPathLength], out e, MaxDepth));
        Assert.Equal(EnvelopeKind.Request, e.Kind);
        Assert.Equal([0xac, .. "100000000001"u8], e.Id.ToArray());
        // Over the limit and malformed messages are handed to the library's reader, which names the problem.
        var tooDeep = Corpus().First(m => { MessagePackEnvelope.ParseWithReader(new ReadOnlySequence<byte>(m), new char[256], out var x, MaxDepth); return x.Problem?.Contains("deeper", StringComparison.Ordinal) == true; });
        Assert.False(MessagePackEnvelope.TryParseSpan(new ReadOnlySequence<byte>(tooDeep), new char[JsonEnvelope.MaxPathLength], out _, MaxDepth));
    }

    [Fact]
    public void AMessageSplitOverSegments_IsReadByTheLibraryReader_WithTheSameResult()
    {
        var message = Corpus().First();
        MessagePackEnvelope.ParseWithReader(new ReadOnlySequence<byte>(message), new char[JsonEnvelope.MaxPathLength], out var whole, MaxDepth);
        for (int split = 1; split < message.Length; split++)
        {
            var sequence = BufferSegment.Create(message[..split], message[split..]);
            var path = new char[JsonEnvelope.MaxPathLength];
            MessagePackEnvelope.Parse(sequence, path, out var e, MaxDepth);
            Assert.Null(e.Problem);
            Assert.Equal(EnvelopeKind.Request, e.Kind);
            Assert.Equal("echo/echo", new string(path, 0, e.PathLength));
            Assert.Equal(whole.Input.ToArray(), e.Input.ToArray());
            Assert.Equal(whole.Id.ToArray(), e.Id.ToArray());
        }
    }
}
