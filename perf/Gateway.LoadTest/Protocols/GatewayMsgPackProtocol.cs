using System.Buffers.Text;
using System.Text;

namespace Gateway.LoadTest.Protocols;

/// <summary>
/// The gateway's envelope over gateway.v1.msgpack (contract C): one binary frame per message, a MessagePack map with
/// the JSON envelope's keys. Requests are encoded once per slot with the id as a 12-digit fixstr (so the sender
/// patches the same 12 ASCII digits in place as for JSON, and the server echoes a string back); replies are read
/// with <see cref="MsgPackReader"/> straight from the frame, without allocating, so the tool's own cost per message
/// stays what it is for JSON.
/// </summary>
public sealed class GatewayMsgPackProtocol : WireProtocol
{
    public const string SubProtocolName = "gateway.v1.msgpack";

    public override string Name => "gateway-msgpack";
    public override string? SubProtocol => SubProtocolName;
    public override bool HasTopics => true;

    public override RequestTemplate Echo(string text) =>
        Request("echo/echo", b => b.Map(1).Str("text").Str(text));

    public override RequestTemplate Count(int items) =>
        Request("echo/count", b => b.Map(2).Str("n").Int(items).Str("delayMs").Int(0));

    public override RequestTemplate Subscribe(string topic) =>
        Request("$subscribe", b => b.Map(1).Str("topic").Str(topic));

    public override RequestTemplate Join(string room) =>
        Request("chat/join", b => b.Map(1).Str("room").Str(room));

    public override RequestTemplate Publish(string room, string text)
    {
        int textAt = 0;
        var template = Request("chat/send", b =>
        {
            b.Map(2).Str("room").Str(room).Str("text");
            // The str header's size depends on the length; the text's first byte follows it.
            var header = new MsgPackBuilder().Str(text);
            textAt = b.Length + header.Length - Encoding.UTF8.GetByteCount(text);
            b.Str(text);
        });
        return template with { StampOffset = textAt + FanoutText.StampAt, SeqOffset = textAt + FanoutText.SeqAt };
    }

    /// <summary>{"id": "100000000000", "path": path, "input": …} with the id digits' offset recorded.</summary>
    private static RequestTemplate Request(string path, Action<MsgPackBuilder> input)
    {
        var b = new MsgPackBuilder().Map(3).Str("id");
        int idOffset = b.Length + 1; // after the fixstr header
        b.Str(IdPlaceholder).Str("path").Str(path).Str("input");
        input(b);
        return new RequestTemplate(b.ToArray(), idOffset, IsText: false);
    }

    public override bool IsEvent(ReadOnlySpan<byte> message) => HasKey(message, "event"u8);
    public override bool IsErrorReply(ReadOnlySpan<byte> message) => HasKey(message, "error"u8);
    public override bool IsResultReply(ReadOnlySpan<byte> message) => HasKey(message, "result"u8);

    /// <summary>The text's stamp: found after the "text" key and its str header.</summary>
    public override bool TryReadFanoutStamp(ReadOnlySpan<byte> message, ref int hint, out long sentAt, out int publisher, out long seq)
    {
        if (hint > 0 && FanoutText.TryReadAt(message, hint, out sentAt, out publisher, out seq)) return true;
        ReadOnlySpan<byte> key = [0xA4, (byte)'t', (byte)'e', (byte)'x', (byte)'t']; // the key "text" as a fixstr
        int from = 0;
        while (true)
        {
            int found = message[from..].IndexOf(key);
            if (found < 0) break;
            var reader = new MsgPackReader(message) { Position = from + found + key.Length };
            if (reader.TryReadString(out var text) && text.Length > 0 && text[0] == 'T')
            {
                int at = reader.Position - text.Length + 1; // just past the 'T'
                if (FanoutText.TryReadAt(message, at, out sentAt, out publisher, out seq))
                {
                    hint = at;
                    return true;
                }
            }
            from += found + 1;
        }
        sentAt = 0; publisher = 0; seq = 0;
        return false;
    }

    /// <summary>Whether the top-level map has <paramref name="key"/> (values are skipped, not read).</summary>
    private static bool HasKey(ReadOnlySpan<byte> message, ReadOnlySpan<byte> key)
    {
        var reader = new MsgPackReader(message);
        if (!reader.TryReadMapHeader(out int count)) return false;
        for (int i = 0; i < count; i++)
        {
            if (!reader.TryReadString(out var name)) return false;
            if (name.SequenceEqual(key)) return true;
            if (!reader.TrySkip()) return false;
        }
        return false;
    }

    public override void Parse(ReadOnlySpan<byte> message, IReplySink sink)
    {
        var reader = new MsgPackReader(message);
        if (!reader.TryReadMapHeader(out int count)) { sink.OnInvalidMessage(); return; }
        long id = 0;
        bool hasId = false, hasResult = false, hasItem = false, dataNull = false, done = false;
        for (int i = 0; i < count; i++)
        {
            if (!reader.TryReadString(out var key)) { sink.OnInvalidMessage(); return; }
            if (key.SequenceEqual("id"u8))
            {
                hasId = TryReadId(ref reader, out id);
                if (!hasId) return; // not one of ours
            }
            else if (key.SequenceEqual("result"u8))
            {
                // Stop before reading a large result once the id is known.
                if (hasId) { sink.OnReply(id, ReplyKind.Result, default); return; }
                if (!reader.TrySkip()) { sink.OnInvalidMessage(); return; }
                hasResult = true;
            }
            else if (key.SequenceEqual("error"u8))
            {
                ReadOnlySpan<byte> code = "ERROR"u8;
                if (reader.TryReadMapHeader(out int fields))
                {
                    for (int f = 0; f < fields; f++)
                    {
                        if (!reader.TryReadString(out var name)) { sink.OnInvalidMessage(); return; }
                        if (name.SequenceEqual("code"u8) && reader.TryReadString(out var c)) code = c;
                        else if (!reader.TrySkip()) { sink.OnInvalidMessage(); return; }
                    }
                }
                else if (!reader.TrySkip()) { sink.OnInvalidMessage(); return; }
                if (hasId) sink.OnReply(id, ReplyKind.Error, code);
                else sink.OnInvalidMessage();
                return;
            }
            else if (key.SequenceEqual("data"u8))
            {
                if (reader.TryReadNil()) dataNull = true;
                else
                {
                    // Items never carry "done": report as soon as the id is known.
                    if (hasId) { sink.OnReply(id, ReplyKind.Item, default); return; }
                    if (!reader.TrySkip()) { sink.OnInvalidMessage(); return; }
                    hasItem = true;
                }
            }
            else if (key.SequenceEqual("done"u8))
            {
                done = reader.IsTrue;
                if (!reader.TrySkip()) { sink.OnInvalidMessage(); return; }
            }
            else if (key.SequenceEqual("path"u8) || key.SequenceEqual("event"u8))
            {
                return; // a call or an event from the server: not a reply to us
            }
            else if (!reader.TrySkip()) { sink.OnInvalidMessage(); return; } // progress, cancel, unknown keys
        }
        if (!hasId) return;
        if (hasResult) sink.OnReply(id, ReplyKind.Result, default);
        else if (done) sink.OnReply(id, ReplyKind.Done, default);
        else if (hasItem || dataNull) sink.OnReply(id, ReplyKind.Item, default);
    }

    /// <summary>An id sent as a string of digits comes back as one; an integer id is accepted too.</summary>
    private static bool TryReadId(ref MsgPackReader reader, out long id)
    {
        id = 0;
        if (reader.End) return false;
        byte b = reader.Peek;
        if (b is (>= 0xA0 and <= 0xBF) or 0xD9 or 0xDA or 0xDB)
            return reader.TryReadString(out var digits) && Utf8Parser.TryParse(digits, out id, out int used) && used == digits.Length;
        return reader.TryReadInt64(out id);
    }
}
