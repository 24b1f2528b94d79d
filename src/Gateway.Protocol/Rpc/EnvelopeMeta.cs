using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using MessagePack;

namespace Gateway.Protocol.Rpc;

/// <summary>
/// Reads the envelope's <c>meta</c> object (<see cref="Envelope.Meta"/>): the W3C trace context a client sends so the
/// gateway's span continues its trace. Called only when a trace listener exists, so the strings it makes are paid only
/// then. Unknown members are ignored; a missing, oversized or malformed <c>traceparent</c> yields no context (not an error:
/// tracing is advisory and must never make a call fail).
/// </summary>
public static class EnvelopeMeta
{
    // W3C: traceparent version 00 is 55 characters (later versions may append); tracestate is at most 512 characters.
    private const int MaxTraceParentLength = 256;
    private const int MaxTraceStateLength = 512;

    /// <summary>The trace context of a JSON <c>meta</c> object.</summary>
    public static bool TryReadJsonTraceContext(in ReadOnlySequence<byte> meta, out ActivityContext context)
    {
        context = default;
        string? traceParent = null, traceState = null;
        try
        {
            var reader = new Utf8JsonReader(meta);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool parent = reader.ValueTextEquals("traceparent"u8);
                bool state = !parent && reader.ValueTextEquals("tracestate"u8);
                reader.Read();
                if ((parent || state) && reader.TokenType == JsonTokenType.String)
                {
                    long length = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
                    if (parent && length <= MaxTraceParentLength) traceParent = reader.GetString();
                    else if (state && length <= MaxTraceStateLength) traceState = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }
        return traceParent is not null && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out context);
    }

    /// <summary>The trace context of a MessagePack <c>meta</c> map (same keys as JSON).</summary>
    public static bool TryReadMessagePackTraceContext(in ReadOnlySequence<byte> meta, out ActivityContext context)
    {
        context = default;
        string? traceParent = null, traceState = null;
        try
        {
            var reader = new MessagePackReader(meta);
            if (reader.NextMessagePackType != MessagePackType.Map) return false;
            int count = reader.ReadMapHeader();
            for (int i = 0; i < count; i++)
            {
                bool parent = false, state = false;
                if (reader.NextMessagePackType == MessagePackType.String && reader.TryReadStringSpan(out var key))
                {
                    parent = key.SequenceEqual("traceparent"u8);
                    state = key.SequenceEqual("tracestate"u8);
                }
                else
                {
                    reader.Skip();
                }
                if ((parent || state) && reader.NextMessagePackType == MessagePackType.String)
                {
                    var value = reader.ReadStringSequence()!.Value;
                    if (parent && value.Length <= MaxTraceParentLength) traceParent = System.Text.EncodingExtensions.GetString(System.Text.Encoding.UTF8, value);
                    else if (state && value.Length <= MaxTraceStateLength) traceState = System.Text.EncodingExtensions.GetString(System.Text.Encoding.UTF8, value);
                }
                else
                {
                    // The envelope parser already bounded the nesting of the whole message.
                    reader.Skip();
                }
            }
        }
        catch (Exception ex) when (ex is MessagePackSerializationException or EndOfStreamException)
        {
            return false;
        }
        return traceParent is not null && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out context);
    }
}
