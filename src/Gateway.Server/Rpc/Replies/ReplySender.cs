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
internal sealed class ReplySender(WebSocketSession session, IWireCodec codec, JsonSerializerOptions json, GatewayMetrics? metrics, ClientFaults faults)
{
    public void SendResult<T>(RpcCall call, T value, JsonTypeInfo<T> info)
    {
        if (!call.HasId || !call.TryFinish()) return;
        call.SetOutcomeOk();
        var id = call.Id;
        codec.SendValue(session, in id, ReplyMember.Result, value, info);
    }

    public void SendNullResult(RpcCall call)
    {
        if (!call.HasId || !call.TryFinish()) return;
        call.SetOutcomeOk();
        var id = call.Id;
        codec.SendNullResult(session, in id);
    }

    public void SendData<T>(RpcCall call, T value, JsonTypeInfo<T> info)
    {
        if (!call.CanSend) return;
        var id = call.Id;
        codec.SendValue(session, in id, ReplyMember.Data, value, info);
    }

    public void SendProgress<T>(RpcCall call, T value, JsonTypeInfo<T> info)
    {
        if (!call.CanSend) return;
        // A stream's items built before this progress go first, as they would one by one. Only from the thread that
        // builds them: progress from another thread was never ordered against the items, and the batch is not shared.
        if (call.StreamBatch is { } batch && batch.OwnerThread == Environment.CurrentManagedThreadId) batch.Flush(call);
        var id = call.Id;
        codec.SendValue(session, in id, ReplyMember.Progress, value, info);
    }

    public void SendDone(RpcCall call)
    {
        if (!call.TryFinish()) return;
        call.SetOutcomeOk();
        var id = call.Id;
        codec.SendDone(session, in id);
    }

    /// <summary>A result encoded once at startup by this connection's codec (the built-ins' answers).</summary>
    public void SendEncodedResult(in RequestId id, ReadOnlyMemory<byte> result) => codec.SendEncodedResult(session, in id, result);

    public void SendError(in RequestId id, ErrorCode code, string message, bool? retryable = null, TimeSpan? retryAfter = null, object? details = null) =>
        codec.SendError(session, in id, code, message, retryable ?? code.IsRetryable(), retryAfter, details, json);

    /// <summary>Maps a handler failure to the reply: RpcException as is, anything else INTERNAL with a generic message.</summary>
    public void Fail(RpcCall call, Exception ex)
    {
        if (ex is OperationCanceledException && call.CancellationToken.IsCancellationRequested)
        {
            // Cancelled by the caller or by the connection closing: nothing goes back (PROTOCOL.md).
            if (call.TryFinish()) call.SetOutcome(ErrorCode.Cancelled);
            return;
        }
        if (!call.HasId)
        {
            call.SetOutcome(ex is RpcException failed ? failed.Code : ErrorCode.Internal);
            faults.HandlerFailed(call.Path, ex);
            return;
        }
        if (!call.TryFinish()) return;
        if (ex is RpcException rpc)
        {
            call.SetOutcome(rpc.Code);
            SendError(call.Id, rpc.Code, rpc.Message, rpc.Retryable, rpc.RetryAfter, rpc.Details);
            return;
        }
        call.SetOutcome(ErrorCode.Internal);
        faults.HandlerFailed(call.Path, ex);
        metrics?.InternalError();
        SendError(call.Id, ErrorCode.Internal, "internal error");
    }
}
