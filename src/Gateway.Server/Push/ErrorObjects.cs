using System.Buffers;
using System.Text.Json;

namespace Gateway.Server.Push;

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

    public static byte[] Write(ErrorCode code, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("code"u8, code.WireName());
            w.WriteNumber("status"u8, code.Status());
            w.WriteString("message"u8, message);
            w.WriteBoolean("retryable"u8, code.IsRetryable());
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] Write(RpcException ex, JsonSerializerOptions json)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("code"u8, ex.Code.WireName());
            w.WriteNumber("status"u8, ex.Code.Status());
            w.WriteString("message"u8, ex.Message);
            w.WriteBoolean("retryable"u8, ex.Retryable ?? ex.Code.IsRetryable());
            if (ex.RetryAfter is { } after) w.WriteNumber("retryAfterMs"u8, (long)Math.Ceiling(after.TotalMilliseconds));
            if (ex.Details is not null)
            {
                w.WritePropertyName("details"u8);
                JsonSerializer.Serialize(w, ex.Details, ex.Details.GetType(), json);
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
