using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.WebSockets;

namespace Gateway.Server.Codec;

/// <summary>The event envelope, <c>{"event":…,"topic":…,"data":…}</c>, serialized once per publish.</summary>
internal static class EventFrames
{
    public static SharedFrame Build<T>(string eventName, string? topic, T data, JsonTypeInfo<T> info)
    {
        var builder = FrameBuilder.Rent();
        try
        {
            var writer = JsonFrames.Begin(builder);
            WriteEnvelope(writer, eventName, topic, data, info);
            writer.Flush();
            return SharedFrame.From(builder.Finish(Opcode.Text));
        }
        finally
        {
            FrameBuilder.Release(builder);
        }
    }

    public static void Write<T>(IBufferWriter<byte> output, string eventName, string? topic, T data, JsonTypeInfo<T> info)
    {
        using var writer = new Utf8JsonWriter(output, JsonFrames.WriterOptions);
        WriteEnvelope(writer, eventName, topic, data, info);
    }

    private static void WriteEnvelope<T>(Utf8JsonWriter writer, string eventName, string? topic, T data, JsonTypeInfo<T> info)
    {
        writer.WriteStartObject();
        writer.WriteString("event"u8, eventName);
        if (topic is not null) writer.WriteString("topic"u8, topic);
        writer.WritePropertyName("data"u8);
        JsonFrames.WriteValue(writer, data, info);
        writer.WriteEndObject();
    }
}
