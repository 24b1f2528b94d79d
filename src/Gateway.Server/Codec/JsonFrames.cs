using System.Runtime.CompilerServices;
using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.WebSockets;
using Gateway.Server.WebSockets;

namespace Gateway.Server.Codec;

/// <summary>
/// Writes JSON messages (replies, server calls, events) with Utf8JsonWriter straight into a <see cref="FrameBuilder"/> (a pooled buffer
/// with room for the frame header), so a reply becomes a frame with no intermediate string or copy.
/// The writer and builder are cached per thread and never held across an await.
/// </summary>
internal static class JsonFrames
{
    [ThreadStatic] private static Utf8JsonWriter? t_writer;
    internal static readonly JsonWriterOptions WriterOptions = new()
    {
        SkipValidation = true,
        Indented = false,
        // Frames are never embedded in HTML, so only what JSON itself requires is escaped.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static Utf8JsonWriter Begin(FrameBuilder builder)
    {
        var writer = t_writer;
        if (writer is null) t_writer = writer = new Utf8JsonWriter(builder, WriterOptions);
        else writer.Reset(builder);
        return writer;
    }

    /// <summary>This thread's writer, pointed at <paramref name="output"/> (any buffer: a stream batch, <see cref="Rpc.StreamBatch"/>).</summary>
    public static Utf8JsonWriter Begin(IBufferWriter<byte> output)
    {
        var writer = t_writer;
        if (writer is null) t_writer = writer = new Utf8JsonWriter(output, WriterOptions);
        else writer.Reset(output);
        return writer;
    }

    /// <summary>Serializes <paramref name="write"/> into a text frame and queues it on the session.</summary>
    public static bool Send<TState>(WebSocketSession session, in TState state, WriteAction<TState> write, bool isTerminal)
    {
        var builder = FrameBuilder.Rent();
        var writer = Begin(builder);
        PooledFrame frame;
        try
        {
            write(writer, in state);
            writer.Flush();
            frame = builder.Finish(Opcode.Text);
        }
        catch
        {
            // The writer may hold a half-written value; Begin resets it before the next use.
            FrameBuilder.Release(builder);
            throw;
        }
        // The writer keeps pointing at this thread's cached builder: harmless, and resetting it to a
        // stream would allocate a buffer on every reply.
        FrameBuilder.Release(builder);
        // Terminal replies are never dropped; stream items and progress may be, for a slow consumer.
        return isTerminal ? session.Send(frame) : session.SendDroppable(frame);
    }

    public delegate void WriteAction<TState>(Utf8JsonWriter writer, in TState state);

    /// <summary>The request id, echoed exactly as the client sent it (raw JSON token).</summary>
    public static void WriteId(Utf8JsonWriter writer, in RequestId id)
    {
        writer.WritePropertyName("id"u8);
        if (id.Text is { Length: > 0 } text) writer.WriteRawValue(text, skipInputValidation: true);
        else if (id.Raw.IsEmpty) writer.WriteNullValue();
        else writer.WriteRawValue(id.Raw, skipInputValidation: true);
    }

    public static void WriteValue<T>(Utf8JsonWriter writer, T value, JsonTypeInfo<T> typeInfo)
    {
        if (value is null) writer.WriteNullValue();
        // A pass-through value is its own JSON (or is transcoded once): no serializer state for it (JIT folds these tests per T).
        else if (typeof(T) == typeof(EncodedValue?)) writer.WriteRawValue(Unsafe.As<T, EncodedValue?>(ref value).GetValueOrDefault().ToJsonUtf8().Span, skipInputValidation: true);
        else if (typeof(T) == typeof(EncodedValue)) writer.WriteRawValue(Unsafe.As<T, EncodedValue>(ref value).ToJsonUtf8().Span, skipInputValidation: true);
        else JsonSerializer.Serialize(writer, value, typeInfo);
    }
}
