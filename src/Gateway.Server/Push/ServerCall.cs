using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Gateway.Server.Push;

/// <summary>
/// A call from the server waiting for its answer: on a connection (the client's <c>result</c> or <c>error</c>), or on
/// another node (its Reply message). Exactly one of the completion methods wins; the others do nothing.
/// </summary>
internal abstract class ServerCall
{
    private int _done;

    /// <summary>The id this call has on its connection's wire (0 until sent).</summary>
    public long WireId { get; set; }

    /// <summary>Claims the right to complete the call.</summary>
    protected bool TryClaim() => Interlocked.Exchange(ref _done, 1) == 0;
    public bool IsDone => Volatile.Read(ref _done) != 0;

    /// <summary>The answer's <c>result</c> JSON (valid during the call).</summary>
    public abstract void OnResult(in ReadOnlySequence<byte> json);

    /// <summary>The answer's <c>error</c> object (valid during the call).</summary>
    public abstract void OnError(in ReadOnlySequence<byte> errorObject);

    /// <summary>No answer will come: the connection closed, the deadline passed, the node is gone.</summary>
    public abstract void OnFailed(ErrorCode code, string message);
}

/// <summary>A call whose caller awaits a typed result on this node.</summary>
internal sealed class TypedServerCall<TResult>(JsonTypeInfo<TResult> info, string what) : ServerCall
{
    private readonly TaskCompletionSource<TResult> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<TResult> Task => _tcs.Task;

    public override void OnResult(in ReadOnlySequence<byte> json)
    {
        if (!TryClaim()) return;
        try
        {
            var reader = new Utf8JsonReader(json);
            _tcs.TrySetResult(JsonSerializer.Deserialize(ref reader, info)!);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException or FormatException or OverflowException)
        {
            _tcs.TrySetException(new RpcException(ErrorCode.InvalidArgument,
                $"the answer of {what} is not valid: {Rpc.JsonShape.Explain(Rpc.JsonShape.Describe(typeof(TResult)), info, ex, 64)}"));
        }
    }

    public override void OnError(in ReadOnlySequence<byte> errorObject)
    {
        if (TryClaim()) _tcs.TrySetException(ErrorObjects.ToException(errorObject));
    }

    public override void OnFailed(ErrorCode code, string message)
    {
        if (TryClaim()) _tcs.TrySetException(new RpcException(code, message));
    }

    public void OnCancelled(CancellationToken token)
    {
        if (TryClaim()) _tcs.TrySetCanceled(token);
    }
}

/// <summary>A call another node asked this node to make on one of its connections: the answer goes back to that node.</summary>
internal sealed class ForwardedServerCall(PushHub hub, string originNode, long correlation) : ServerCall
{
    public string OriginNode { get; } = originNode;
    public long Correlation { get; } = correlation;
    public CancellationTokenSource? Timeout { get; set; }
    public Rpc.RpcConnection? Connection { get; set; }

    public override void OnResult(in ReadOnlySequence<byte> json)
    {
        if (TryClaim()) hub.SendReply(this, isError: false, json);
    }

    public override void OnError(in ReadOnlySequence<byte> errorObject)
    {
        if (TryClaim()) hub.SendReply(this, isError: true, errorObject);
    }

    public override void OnFailed(ErrorCode code, string message)
    {
        if (TryClaim()) hub.SendReply(this, isError: true, new ReadOnlySequence<byte>(ErrorObjects.Write(code, message)));
    }

    /// <summary>The origin cancelled or gave up: nothing goes back.</summary>
    public bool Abandon() => TryClaim();
}

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
