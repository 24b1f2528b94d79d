using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Server.Codec;
using Gateway.Server.Rpc.Limits;
using Gateway.Server.WebSockets;

namespace Gateway.Server.Rpc;

/// <summary>
/// The replies of one connection: results, stream items and progress, the end of a stream, errors, and the mapping
/// of a handler's failure to its reply. Each claims the call's one terminal reply where the protocol says so.
/// </summary>
internal sealed class ReplySender(WebSocketSession session, JsonSerializerOptions json, GatewayMetrics? metrics, ClientFaults faults)
{
    private readonly struct ValueReply<T>(RpcCall call, T value, JsonTypeInfo<T> info, ReadOnlyMemory<byte> member)
    {
        public readonly RpcCall Call = call;
        public readonly T Value = value;
        public readonly JsonTypeInfo<T> Info = info;
        public readonly ReadOnlyMemory<byte> Member = member;
    }

    private static readonly ReadOnlyMemory<byte> ResultMember = "result"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> DataMember = "data"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> ProgressMember = "progress"u8.ToArray();

    private static void WriteValueReply<T>(Utf8JsonWriter w, in ValueReply<T> r)
    {
        w.WriteStartObject();
        var id = r.Call.Id;
        JsonFrames.WriteId(w, in id);
        w.WritePropertyName(r.Member.Span);
        JsonFrames.WriteValue(w, r.Value, r.Info);
        w.WriteEndObject();
    }

    public void SendResult<T>(RpcCall call, T value, JsonTypeInfo<T> info)
    {
        if (!call.HasId || !call.TryFinish()) return;
        JsonFrames.Send(session, new ValueReply<T>(call, value, info, ResultMember), WriteValueReply, isTerminal: true);
    }

    public void SendNullResult(RpcCall call)
    {
        if (!call.HasId || !call.TryFinish()) return;
        JsonFrames.Send(session, call, static (Utf8JsonWriter w, in RpcCall c) =>
        {
            w.WriteStartObject();
            var id = c.Id;
            JsonFrames.WriteId(w, in id);
            w.WriteNull("result"u8);
            w.WriteEndObject();
        }, isTerminal: true);
    }

    public void SendData<T>(RpcCall call, T value, JsonTypeInfo<T> info)
    {
        if (!call.CanSend) return;
        JsonFrames.Send(session, new ValueReply<T>(call, value, info, DataMember), WriteValueReply, isTerminal: false);
    }

    public void SendProgress<T>(RpcCall call, T value, JsonTypeInfo<T> info)
    {
        if (!call.CanSend) return;
        JsonFrames.Send(session, new ValueReply<T>(call, value, info, ProgressMember), WriteValueReply, isTerminal: false);
    }

    public void SendDone(RpcCall call)
    {
        if (!call.TryFinish()) return;
        JsonFrames.Send(session, call, static (Utf8JsonWriter w, in RpcCall c) =>
        {
            w.WriteStartObject();
            var id = c.Id;
            JsonFrames.WriteId(w, in id);
            w.WriteNull("data"u8);
            w.WriteBoolean("done"u8, true);
            w.WriteEndObject();
        }, isTerminal: true);
    }

    private readonly record struct RawResult(RequestId Id, ReadOnlyMemory<byte> Json);

    /// <summary>A result that is JSON already (the built-ins' answers).</summary>
    public void SendRawResult(in RequestId id, ReadOnlyMemory<byte> resultJson)
    {
        JsonFrames.Send(session, new RawResult(id, resultJson), static (Utf8JsonWriter w, in RawResult r) =>
        {
            w.WriteStartObject();
            var rid = r.Id;
            JsonFrames.WriteId(w, in rid);
            w.WritePropertyName("result"u8);
            w.WriteRawValue(r.Json.Span, skipInputValidation: true);
            w.WriteEndObject();
        }, isTerminal: true);
    }

    private readonly record struct ErrorReply(RequestId Id, ErrorCode Code, string Message, bool Retryable, TimeSpan? RetryAfter, object? Details, JsonSerializerOptions Json);

    public void SendError(in RequestId id, ErrorCode code, string message, bool? retryable = null, TimeSpan? retryAfter = null, object? details = null)
    {
        JsonFrames.Send(session, new ErrorReply(id, code, message, retryable ?? code.IsRetryable(), retryAfter, details, json), static (Utf8JsonWriter w, in ErrorReply e) =>
        {
            w.WriteStartObject();
            var id = e.Id;
            JsonFrames.WriteId(w, in id);
            w.WritePropertyName("error"u8);
            ErrorObjects.Write(w, e.Code, e.Message, e.Retryable, e.RetryAfter, e.Details, e.Json);
            w.WriteEndObject();
        }, isTerminal: true);
    }

    /// <summary>Maps a handler failure to the reply: RpcException as is, anything else INTERNAL with a generic message.</summary>
    public void Fail(RpcCall call, Exception ex)
    {
        if (ex is OperationCanceledException && call.CancellationToken.IsCancellationRequested)
        {
            // Cancelled by the caller or by the connection closing: nothing goes back (PROTOCOL.md).
            call.TryFinish();
            return;
        }
        if (!call.HasId)
        {
            faults.HandlerFailed(call.Path, ex);
            return;
        }
        if (!call.TryFinish()) return;
        if (ex is RpcException rpc)
        {
            SendError(call.Id, rpc.Code, rpc.Message, rpc.Retryable, rpc.RetryAfter, rpc.Details);
            return;
        }
        faults.HandlerFailed(call.Path, ex);
        metrics?.InternalError();
        SendError(call.Id, ErrorCode.Internal, "internal error");
    }
}
