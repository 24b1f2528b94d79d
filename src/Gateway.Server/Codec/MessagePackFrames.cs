using System.Buffers;
using Gateway.Protocol.WebSockets;
using Gateway.Server.WebSockets;
using MessagePack;

namespace Gateway.Server.Codec;

/// <summary>
/// Writes MessagePack messages with the library's <see cref="MessagePackWriter"/> straight into a pooled
/// <see cref="FrameBuilder"/>, as <see cref="JsonFrames"/> does for JSON: no intermediate buffer or copy.
/// </summary>
internal static class MessagePackFrames
{
    public delegate void WriteAction<TState>(ref MessagePackWriter writer, in TState state);

    /// <summary>Serializes <paramref name="write"/> into a binary frame and queues it on the session.</summary>
    public static bool Send<TState>(WebSocketSession session, in TState state, WriteAction<TState> write, bool isTerminal)
    {
        var builder = FrameBuilder.Rent();
        PooledFrame frame;
        try
        {
            var writer = new MessagePackWriter(builder);
            write(ref writer, in state);
            writer.Flush();
            frame = builder.Finish(Opcode.Binary);
        }
        finally
        {
            FrameBuilder.Release(builder);
        }
        // Terminal replies are never dropped; stream items and progress may be, for a slow consumer.
        return isTerminal ? session.Send(frame) : session.SendDroppable(frame);
    }

    /// <summary>
    /// <c>{"id": rawId, member: value}</c> where both are already MessagePack (the client's id token, a pass-through value):
    /// written by copying, as <see cref="Send"/> would write them through <see cref="MessagePackWriter.WriteRaw(ReadOnlySpan{byte})"/>.
    /// </summary>
    public static bool SendVerbatim(WebSocketSession session, in ReadOnlySequence<byte> rawId, ReplyMember member, ReadOnlySpan<byte> value)
    {
        ReadOnlySpan<byte> key = member switch { ReplyMember.Result => "result"u8, ReplyMember.Data => "data"u8, _ => "progress"u8 };
        int idLength = (int)rawId.Length;
        int length = 4 + idLength + 1 + key.Length + value.Length;
        var builder = FrameBuilder.Rent();
        PooledFrame frame;
        try
        {
            var span = builder.GetSpan(length);
            span[0] = 0x82; // fixmap, 2 entries
            span[1] = 0xa2; // fixstr "id"
            span[2] = (byte)'i';
            span[3] = (byte)'d';
            rawId.CopyTo(span[4..]);
            int at = 4 + idLength;
            span[at++] = (byte)(0xa0 | key.Length);
            key.CopyTo(span[at..]);
            at += key.Length;
            value.CopyTo(span[at..]);
            builder.Advance(length);
            frame = builder.Finish(Opcode.Binary);
        }
        finally
        {
            FrameBuilder.Release(builder);
        }
        return member == ReplyMember.Result ? session.Send(frame) : session.SendDroppable(frame);
    }

    /// <summary>
    /// The request id in the type the client sent: the raw str or int of the message, or, once the call outlived the
    /// message, its key (<see cref="MessagePackWireCodec.IdKey"/>: a quoted string or the integer's digits).
    /// </summary>
    public static void WriteId(ref MessagePackWriter writer, in RequestId id)
    {
        writer.WriteString("id"u8);
        if (id.Text is { Length: > 0 } text)
        {
            if (text[0] == '"') writer.Write(text.AsSpan(1, text.Length - 2));
            else writer.Write(long.Parse(text, System.Globalization.CultureInfo.InvariantCulture));
        }
        else if (id.Raw.IsEmpty) writer.WriteNil();
        else writer.WriteRaw(id.Raw);
    }

    public static SharedFrame Share(ReadOnlySpan<byte> payload) => SharedFrame.Create(Opcode.Binary, payload);
}
