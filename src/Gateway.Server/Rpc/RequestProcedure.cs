using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.Rpc;

namespace Gateway.Server.Rpc;

internal sealed class RequestProcedure<TIn, TOut>(ProcedureDescriptor descriptor, object? service,
    Func<object?, TIn, RpcContext, CancellationToken, ValueTask<TOut>> invoker, JsonTypeInfo<TIn>? inputInfo, JsonTypeInfo<TOut> outputInfo)
    : Procedure(descriptor)
{
    public override void Dispatch(RpcConnection connection, ref Envelope envelope, in RequestId id)
    {
        if (!connection.TryReadInput(this, ref envelope, inputInfo, id, out TIn input)) return;
        var call = connection.BeginCall(this, id, envelope.HasId);
        ValueTask<TOut> pending;
        try
        {
            pending = invoker(service, input, call, call.CancellationToken);
        }
        catch (Exception ex)
        {
            connection.Fail(call, ex);
            connection.EndCall(call);
            return;
        }
        if (pending.IsCompletedSuccessfully)
        {
            connection.SendResult(call, pending.Result, outputInfo);
            connection.EndCall(call);
            return;
        }
        connection.Track(call);
        _ = CompleteAsync(connection, call, pending);
    }

    private async Task CompleteAsync(RpcConnection connection, RpcCall call, ValueTask<TOut> pending)
    {
        try
        {
            var result = await pending.ConfigureAwait(false);
            // A reply is never dropped: wait for the client to drain, the call still counting as in flight.
            await connection.Session.WaitForSendRoomAsync().ConfigureAwait(false);
            connection.SendResult(call, result, outputInfo);
        }
        catch (Exception ex)
        {
            connection.Fail(call, ex);
        }
        finally
        {
            connection.EndCall(call);
        }
    }
}
