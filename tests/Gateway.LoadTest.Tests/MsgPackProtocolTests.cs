using System.Buffers;
using System.Text;
using Gateway.LoadTest.Protocols;
using MessagePack;

namespace Gateway.LoadTest.Tests;

/// <summary>
/// The load tool's gateway.v1.msgpack requests (encoded by hand, once per slot) and reply parser (no allocation) checked
/// against MessagePack-CSharp: what the tool sends must decode to the envelope of contract C with the library, and what
/// the library encodes must be read back by the tool.
/// </summary>
public sealed class MsgPackProtocolTests
{
    private static readonly GatewayMsgPackProtocol Protocol = new();

    private static Dictionary<object, object?> Decode(byte[] payload) =>
        (Dictionary<object, object?>)MessagePackSerializer.Deserialize<object>(payload, MessagePack.Resolvers.ContractlessStandardResolver.Options)!;

    /// <summary>The template's payload with the id digits (and a publish's stamp) patched as a send patches them.</summary>
    private static byte[] Patch(RequestTemplate template, long id)
    {
        var payload = (byte[])template.Payload.Clone();
        WireProtocol.WriteId(payload.AsSpan(template.IdOffset), id);
        return payload;
    }

    [Fact]
    public void Echo_request_decodes_to_the_envelope_with_the_patched_string_id()
    {
        var template = Protocol.Echo(WireProtocol.PayloadText(64));
        Assert.False(template.IsText);
        long id = WireProtocol.EncodeId(42, 777);
        var map = Decode(Patch(template, id));
        Assert.Equal(3, map.Count);
        Assert.Equal(id.ToString(), map["id"]);
        Assert.Equal("echo/echo", map["path"]);
        var input = (Dictionary<object, object?>)map["input"]!;
        Assert.Equal(WireProtocol.PayloadText(64), input["text"]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(200)]
    [InlineData(70_000)]
    [InlineData(1024 * 1024)]
    public void Echo_text_of_any_length_uses_a_valid_str_header(int length)
    {
        var map = Decode(Patch(Protocol.Echo(WireProtocol.PayloadText(length)), WireProtocol.EncodeId(1, 1)));
        Assert.Equal(WireProtocol.PayloadText(length), ((Dictionary<object, object?>)map["input"]!)["text"]);
    }

    [Fact]
    public void Count_subscribe_and_join_requests_decode()
    {
        var count = Decode(Patch(Protocol.Count(1000), WireProtocol.EncodeId(3, 4)));
        Assert.Equal("echo/count", count["path"]);
        var input = (Dictionary<object, object?>)count["input"]!;
        Assert.Equal(1000L, Convert.ToInt64(input["n"]));
        Assert.Equal(0L, Convert.ToInt64(input["delayMs"]));

        var subscribe = Decode(Patch(Protocol.Subscribe("room:bench"), WireProtocol.EncodeId(0, 1)));
        Assert.Equal("$subscribe", subscribe["path"]);
        Assert.Equal("room:bench", ((Dictionary<object, object?>)subscribe["input"]!)["topic"]);

        var join = Decode(Patch(Protocol.Join("bench"), WireProtocol.EncodeId(0, 1)));
        Assert.Equal("chat/join", join["path"]);
        Assert.Equal("bench", ((Dictionary<object, object?>)join["input"]!)["room"]);
    }

    [Theory]
    [InlineData(FanoutText.HeaderLength)]
    [InlineData(64)]
    [InlineData(512)]
    public void Publish_stamp_offsets_point_into_the_text(int payload)
    {
        var template = Protocol.Publish("bench", FanoutText.Build(7, payload));
        var bytes = Patch(template, WireProtocol.EncodeId(0, 9));
        WireProtocol.WriteDigits(bytes.AsSpan(template.StampOffset, FanoutText.StampWidth), 1234567890123456789);
        WireProtocol.WriteDigits(bytes.AsSpan(template.SeqOffset, FanoutText.SeqWidth), 42);
        var map = Decode(bytes);
        Assert.Equal("chat/send", map["path"]);
        var input = (Dictionary<object, object?>)map["input"]!;
        Assert.Equal("bench", input["room"]);
        string text = (string)input["text"]!;
        Assert.Equal(payload, text.Length);
        Assert.StartsWith("T1234567890123456789P0007S0000000042.", text);
    }

    // ---------------------------------------------------------------- replies written by MessagePack-CSharp

    private delegate void WriteMessage(ref MessagePackWriter writer);

    private static byte[] Write(WriteMessage write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        write(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private sealed class RecordingSink : IReplySink
    {
        public readonly List<(long Id, ReplyKind Kind, string Text)> Replies = [];
        public int Invalid;
        public void OnReply(long id, ReplyKind kind, ReadOnlySpan<byte> errorText) => Replies.Add((id, kind, Encoding.UTF8.GetString(errorText)));
        public void OnProtocolClose(string reason) => throw new InvalidOperationException(reason);
        public void OnInvalidMessage() => Invalid++;
    }

    private static RecordingSink Parse(byte[] message)
    {
        var sink = new RecordingSink();
        Protocol.Parse(message, sink);
        return sink;
    }

    private const long Id = 100_000_700_123;

    [Fact]
    public void Result_with_a_string_id_and_with_an_int_id()
    {
        var asString = Write((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(Id.ToString()); w.Write("result"); w.WriteMapHeader(1); w.Write("text"); w.Write("x"); });
        Assert.Equal([(Id, ReplyKind.Result, "")], Parse(asString).Replies);
        var asInt = Write((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(Id); w.Write("result"); w.WriteNil(); });
        Assert.Equal([(Id, ReplyKind.Result, "")], Parse(asInt).Replies);
    }

    [Fact]
    public void Result_before_the_id_is_skipped_whatever_it_holds()
    {
        // Everything Skip must step over: nested maps and arrays, bin, floats, negative ints, a timestamp (ext -1).
        var message = Write((ref MessagePackWriter w) =>
        {
            w.WriteMapHeader(2);
            w.Write("result");
            w.WriteMapHeader(6);
            w.Write("bin"); w.Write(new byte[300]);
            w.Write("f"); w.Write(1.5);
            w.Write("n"); w.Write(-100_000);
            w.Write("at"); w.Write(new DateTime(2026, 12, 6, 7, 0, 0, DateTimeKind.Utc));
            w.Write("list"); w.WriteArrayHeader(3); w.Write(true); w.WriteNil(); w.Write(new string('a', 40_000));
            w.Write("deep"); w.WriteMapHeader(1); w.Write("x"); w.WriteArrayHeader(1); w.Write(float.MaxValue);
            w.Write("id"); w.Write(Id.ToString());
        });
        var sink = Parse(message);
        Assert.Equal(0, sink.Invalid);
        Assert.Equal([(Id, ReplyKind.Result, "")], sink.Replies);
    }

    [Fact]
    public void Error_reports_its_code()
    {
        var message = Write((ref MessagePackWriter w) =>
        {
            w.WriteMapHeader(2);
            w.Write("id"); w.Write(Id.ToString());
            w.Write("error"); w.WriteMapHeader(4);
            w.Write("status"); w.Write(404); w.Write("message"); w.Write("no such procedure");
            w.Write("code"); w.Write("NOT_FOUND"); w.Write("retryable"); w.Write(false);
        });
        Assert.Equal([(Id, ReplyKind.Error, "NOT_FOUND")], Parse(message).Replies);
        Assert.True(Protocol.IsErrorReply(message));
        Assert.False(Protocol.IsResultReply(message));
    }

    [Fact]
    public void Stream_items_and_the_end()
    {
        var item = Write((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(Id.ToString()); w.Write("data"); w.WriteMapHeader(1); w.Write("i"); w.Write(5); });
        var end = Write((ref MessagePackWriter w) => { w.WriteMapHeader(3); w.Write("id"); w.Write(Id.ToString()); w.Write("data"); w.WriteNil(); w.Write("done"); w.Write(true); });
        Assert.Equal([(Id, ReplyKind.Item, "")], Parse(item).Replies);
        Assert.Equal([(Id, ReplyKind.Done, "")], Parse(end).Replies);
    }

    private static byte[] Event(string text) => Write((ref MessagePackWriter w) =>
    {
        w.WriteMapHeader(3);
        w.Write("event"); w.Write("chat.message");
        w.Write("topic"); w.Write("room:bench");
        w.Write("data"); w.WriteMapHeader(4);
        w.Write("room"); w.Write("bench"); w.Write("from"); w.Write("c1");
        w.Write("text"); w.Write(text);
        w.Write("sentAt"); w.Write(DateTime.UtcNow);
    });

    [Fact]
    public void Events_are_recognised_and_their_stamp_read()
    {
        string text = FanoutText.Build(3, 64).Replace("T0000000000000000000", "T0000000000000054321").Replace("S0000000000", "S0000000099");
        var message = Event(text);
        Assert.True(Protocol.IsEvent(message));
        Assert.Empty(Parse(message).Replies); // an event is not a reply
        int hint = 0;
        Assert.True(Protocol.TryReadFanoutStamp(message, ref hint, out long sentAt, out int publisher, out long seq));
        Assert.Equal((54321L, 3, 99L), (sentAt, publisher, seq));
        Assert.True(hint > 0);
        // The next event of the same publisher is read at the hint, a different layout by searching again.
        Assert.True(Protocol.TryReadFanoutStamp(Event(text.Replace("S0000000099", "S0000000100")), ref hint, out _, out _, out seq));
        Assert.Equal(100L, seq);
        Assert.True(Protocol.TryReadFanoutStamp(Event(FanoutText.Build(1, 300)), ref hint, out _, out publisher, out _));
        Assert.Equal(1, publisher);
        Assert.False(Protocol.IsEvent(Write((ref MessagePackWriter w) => { w.WriteMapHeader(1); w.Write("id"); w.Write(1); })));
    }

    [Fact]
    public void Malformed_and_truncated_messages_are_counted_never_thrown()
    {
        var whole = Write((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("result"); w.Write(new string('z', 100)); w.Write("id"); w.Write(Id.ToString()); });
        for (int cut = 0; cut < whole.Length; cut++)
        {
            var sink = Parse(whole[..cut]);
            Assert.Empty(sink.Replies);
        }
        // A map header claiming 2^32-1 entries must not loop or allocate.
        var huge = new byte[] { 0xDF, 0xFF, 0xFF, 0xFF, 0xFF, 0xA2, (byte)'i', (byte)'d', 0x01 };
        Assert.Empty(Parse(huge).Replies);
        Assert.Equal(1, Parse([0xC1]).Invalid);
        var nested = Enumerable.Repeat((byte)0x91, 200).Append((byte)0xC0).ToArray(); // arrays 200 deep
        var deep = Write((ref MessagePackWriter w) => { w.WriteMapHeader(1); w.Write("result"); w.WriteRaw(nested); });
        Assert.Equal(1, Parse(deep).Invalid);
    }

    [Fact]
    public void Parsing_a_reply_allocates_nothing()
    {
        var reply = Write((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(Id.ToString()); w.Write("result"); w.WriteMapHeader(1); w.Write("text"); w.Write(WireProtocol.PayloadText(64)); });
        var item = Write((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(Id.ToString()); w.Write("data"); w.WriteMapHeader(1); w.Write("i"); w.Write(5); });
        var sink = new CountingSink();
        for (int i = 0; i < 100; i++) { Protocol.Parse(reply, sink); Protocol.Parse(item, sink); } // JIT and tiering first
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) { Protocol.Parse(reply, sink); Protocol.Parse(item, sink); }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // The smallest object is 24 bytes, so anything allocated per message shows as ≥ 480,000 here; what the runtime
        // allocates once on this thread while tiering the loop (a few dozen bytes) is not the parser's.
        Assert.True(allocated < 20_000 / 8, $"{allocated} bytes allocated over 20,000 parsed messages");
        Assert.Equal(20_200, sink.Count);
    }

    private sealed class CountingSink : IReplySink
    {
        public int Count;
        public void OnReply(long id, ReplyKind kind, ReadOnlySpan<byte> errorText) { if (id == Id) Count++; }
        public void OnProtocolClose(string reason) { }
        public void OnInvalidMessage() { }
    }

    [Fact]
    public void Format_option_picks_the_protocol()
    {
        Assert.IsType<GatewayMsgPackProtocol>(WireProtocol.Create("gateway", "msgpack"));
        Assert.Equal("gateway.v1.msgpack", WireProtocol.Create("gateway", "msgpack").SubProtocol);
        Assert.IsType<GatewayProtocol>(WireProtocol.Create("gateway", "json"));
        Assert.Throws<ArgumentException>(() => WireProtocol.Create("signalr", "msgpack"));
    }
}
