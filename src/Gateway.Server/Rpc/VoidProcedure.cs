using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.Rpc;

namespace Gateway.Server.Rpc;

internal sealed class VoidProcedure<TIn>(ProcedureDescriptor descriptor, object? service,
    Func<object?, TIn, RpcContext, CancellationToken, ValueTask> invoker, JsonTypeInfo<TIn>? inputInfo, object? unused)
    : Procedure(descriptor)
{
    public override void Dispatch(RpcConnection connection, ref Envelope envelope, in RequestId id)
    {
        if (!connection.TryReadInput(this, ref envelope, inputInfo, id, out TIn input)) return;
        var call = connection.BeginCall(this, id, envelope.HasId);
        ValueTask pending;
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
            connection.SendNullResult(call);
            connection.EndCall(call);
            return;
        }
        connection.Track(call);
        _ = CompleteAsync(connection, call, pending);
    }

    private static async Task CompleteAsync(RpcConnection connection, RpcCall call, ValueTask pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
            await connection.Session.WaitForSendRoomAsync().ConfigureAwait(false);
            connection.SendNullResult(call);
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
