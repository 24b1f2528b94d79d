using System.Buffers;
using Gateway.Server.Codec;
using MessagePack;

namespace Gateway.Rpc.Tests;

/// <summary>
/// A MessagePack pass-through value (<see cref="EncodedValue"/>, what <c>echo/echo</c> takes) is checked and copied by a
/// span walk when its bytes are contiguous, with the library's reader behind it for the rest. For every value of a
/// corpus (each type, nesting around the limit, what JSON cannot hold) and a bounded set of byte mutations, both give
/// the same answer: the same bytes, or the same exception type and message.
/// </summary>
public sealed class EncodedValueSpanTests
{
    private const int MaxDepth = 6;

    private delegate void Write(ref MessagePackWriter w);

    private static byte[] Pack(Write write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var w = new MessagePackWriter(buffer);
        write(ref w);
        w.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static IEnumerable<byte[]> Corpus()
    {
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(1); w.Write("text"); w.Write(new string('x', 53)); });
        yield return Pack((ref MessagePackWriter w) => w.WriteNil());
        yield return Pack((ref MessagePackWriter w) => w.Write(true));
        foreach (long n in new long[] { 0, 127, 128, 65536, -33, long.MinValue, long.MaxValue })
            yield return Pack((ref MessagePackWriter w) => w.Write(n));
        yield return Pack((ref MessagePackWriter w) => w.Write(ulong.MaxValue));
        foreach (double d in new[] { 1.5, double.NaN, double.PositiveInfinity, -0.0 })
        {
            yield return Pack((ref MessagePackWriter w) => w.Write(d));
            yield return Pack((ref MessagePackWriter w) => w.Write((float)d));
        }
        yield return Pack((ref MessagePackWriter w) => w.Write("caf\u00e9 \u6f22\u5b57"));
        yield return Pack((ref MessagePackWriter w) => w.WriteString(new byte[] { 0x61, 0xff }));
        yield return Pack((ref MessagePackWriter w) => w.Write(new string('s', 70000)));
        yield return Pack((ref MessagePackWriter w) => w.Write(new byte[] { 1, 2, 3 }));
        yield return Pack((ref MessagePackWriter w) => w.Write(new byte[70000]));
        yield return Pack((ref MessagePackWriter w) => w.Write(new DateTime(2026, 12, 6, 12, 0, 0, DateTimeKind.Utc)));
        yield return Pack((ref MessagePackWriter w) => w.WriteExtensionFormat(new ExtensionResult(7, new byte[] { 1 })));
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(3); w.Write(1); w.Write("int key"); w.Write("s"); w.WriteNil(); w.Write(2.5); w.Write(1); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteMapHeader(1); w.WriteArrayHeader(0); w.Write(1); });
        yield return Pack((ref MessagePackWriter w) => { w.WriteArrayHeader(3); w.Write(1); w.WriteMapHeader(1); w.Write("a"); w.WriteArrayHeader(1); w.Write("b"); w.WriteNil(); });
        for (int levels = MaxDepth - 2; levels <= MaxDepth + 1; levels++)
        {
            int n = levels;
            yield return Pack((ref MessagePackWriter w) => { for (int i = 0; i < n; i++) w.WriteArrayHeader(1); w.Write(1); });
            yield return Pack((ref MessagePackWriter w) => { for (int i = 0; i < n; i++) { w.WriteMapHeader(1); w.Write("k"); } w.Write(1); });
        }
    }

    private static string Outcome(Func<EncodedValue> read)
    {
        try
        {
            var value = read();
            return value.Format + ":" + Convert.ToHexString(value.Encoded.Span);
        }
        catch (Exception ex)
        {
            return ex.GetType().Name + ":" + ex.Message;
        }
    }

    private static void AssertSame(byte[] value)
    {
        var sequence = new ReadOnlySequence<byte>(value);
        string span = Outcome(() => EncodedValueFormatter.Read(sequence, MaxDepth));
        string reader = Outcome(() =>
        {
            var r = new MessagePackReader(sequence);
            return EncodedValueFormatter.Read(ref r, MaxDepth);
        });
        Assert.True(span == reader, $"{Convert.ToHexString(value.AsSpan(0, Math.Min(value.Length, 64)))}: span '{Trim(span)}' vs reader '{Trim(reader)}'");
    }

    private static string Trim(string s) => s.Length > 200 ? s[..200] : s;

    [Fact]
    public void EveryCorpusValue_IsReadAsTheLibraryReaderReadsIt()
    {
        int values = 0;
        foreach (var value in Corpus())
        {
            AssertSame(value);
            values++;
        }
        Assert.True(values > 30);
        // The common input takes the span walk and is copied exactly.
        var text = Corpus().First();
        var read = EncodedValueFormatter.Read(new ReadOnlySequence<byte>(text), MaxDepth);
        Assert.Equal(WireFormat.MessagePack, read.Format);
        Assert.Equal(text, read.Encoded.ToArray());
    }

    [Fact]
    public void ByteMutations_AreReadAsTheLibraryReaderReadsThem()
    {
        var random = new Random(17);
        byte[] codes = [0x7f, 0x80, 0x81, 0x90, 0x91, 0xa1, 0xc0, 0xc1, 0xc2, 0xc4, 0xc7, 0xca, 0xcb, 0xcc, 0xcf, 0xd3, 0xd4, 0xd6, 0xd9, 0xdb, 0xdc, 0xde, 0xdf, 0xe0, 0xff];
        int mutations = 0;
        foreach (var value in Corpus().Where(v => v.Length < 1000))
        {
            for (int i = 0; i < 40; i++)
            {
                var mutated = (byte[])value.Clone();
                int at = random.Next(mutated.Length);
                mutated[at] = random.Next(3) == 0 ? (byte)random.Next(256) : codes[random.Next(codes.Length)];
                AssertSame(mutated);
                mutations++;
            }
        }
        Assert.True(mutations > 1000);
    }
}
