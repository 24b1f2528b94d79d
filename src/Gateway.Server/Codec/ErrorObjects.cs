using System.Buffers;
using System.Text.Json;

namespace Gateway.Server.Codec;

/// <summary>The protocol's error object (PROTOCOL.md), read into an <see cref="RpcException"/> and written from a code.</summary>
internal static class ErrorObjects
{
    public static RpcException ToException(in ReadOnlySequence<byte> errorObject)
    {
        try
        {
            using var doc = JsonDocument.Parse(errorObject);
            var root = doc.RootElement;
            var code = ErrorCode.Internal;
            string message = "the client answered with an error";
            bool? retryable = null;
            TimeSpan? retryAfter = null;
            object? details = null;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String && ErrorCodes.TryParse(c.GetString(), out var parsed)) code = parsed;
                if (root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String) message = m.GetString()!;
                if (root.TryGetProperty("retryable", out var r) && r.ValueKind is JsonValueKind.True or JsonValueKind.False) retryable = r.GetBoolean();
                if (root.TryGetProperty("retryAfterMs", out var a) && a.TryGetInt64(out long ms) && ms >= 0) retryAfter = TimeSpan.FromMilliseconds(ms);
                if (root.TryGetProperty("details", out var d)) details = d.Clone();
            }
            return new RpcException(code, message, details) { Retryable = retryable, RetryAfter = retryAfter };
        }
        catch (JsonException)
        {
            return new RpcException(ErrorCode.Internal, "the client answered with a malformed error");
        }
    }

    /// <summary>An error object for a code and message (no details): what the gateway answers for a call it failed itself.</summary>
    public static byte[] ToBytes(ErrorCode code, string message) => ToBytes(code, message, code.IsRetryable(), null, null, null);

    /// <summary>The error object of a handler's <see cref="RpcException"/>, details included.</summary>
    public static byte[] ToBytes(RpcException ex, JsonSerializerOptions json) =>
        ToBytes(ex.Code, ex.Message, ex.Retryable ?? ex.Code.IsRetryable(), ex.RetryAfter, ex.Details, json);

    private static byte[] ToBytes(ErrorCode code, string message, bool retryable, TimeSpan? retryAfter, object? details, JsonSerializerOptions? json)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer, JsonFrames.WriterOptions)) // as a direct reply writes it: the same bytes whichever node answers
        {
            Write(w, code, message, retryable, retryAfter, details, json);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The one writer of the protocol's error object, <c>{"code","status","message","retryable"[,"retryAfterMs"][,"details"]}</c>:
    /// replies to the client and answers sent to another node both come through here.
    /// </summary>
    public static void Write(Utf8JsonWriter w, ErrorCode code, string message, bool retryable, TimeSpan? retryAfter, object? details, JsonSerializerOptions? json)
    {
        w.WriteStartObject();
        w.WriteString("code"u8, code.WireName());
        w.WriteNumber("status"u8, code.Status());
        w.WriteString("message"u8, message);
        w.WriteBoolean("retryable"u8, retryable);
        if (retryAfter is { } after) w.WriteNumber("retryAfterMs"u8, (long)Math.Ceiling(after.TotalMilliseconds));
        if (details is not null)
        {
            w.WritePropertyName("details"u8);
            JsonSerializer.Serialize(w, details, details.GetType(), json);
        }
        w.WriteEndObject();
    }
}
