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
