using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.Rpc;

namespace Gateway.Server.Rpc;

internal sealed class SubscriptionProcedure<TIn, TOut>(ProcedureDescriptor descriptor, object? service,
    Func<object?, TIn, RpcContext, CancellationToken, IAsyncEnumerable<TOut>> invoker, JsonTypeInfo<TIn>? inputInfo, JsonTypeInfo<TOut> outputInfo)
    : Procedure(descriptor)
{
    public override void Dispatch(RpcConnection connection, ref Envelope envelope, in Codec.RequestId id)
    {
        if (!envelope.HasId)
        {
            // A stream needs an id to address its items; a notification can never be answered.
            connection.Faults.DroppedNotification(Name, "a subscription cannot be called as a notification");
            return;
        }
        if (!InputReader.TryRead(connection, this, ref envelope, inputInfo, id, out TIn input)) return;
        var call = connection.Calls.Begin(this, id, hasId: true);
        connection.Calls.Track(call);
        _ = StreamAsync(connection, call, input);
    }

    private async Task StreamAsync(RpcConnection connection, RpcCall call, TIn input)
    {
        // Leave the read loop first: the iterator may produce many items synchronously.
        await Task.Yield();
        IAsyncEnumerator<TOut>? enumerator = null;
        try
        {
            enumerator = invoker(service, input, call, call.CancellationToken).GetAsyncEnumerator(call.CancellationToken);
            while (await enumerator.MoveNextAsync().ConfigureAwait(false))
            {
                if (call.IsCancelled || connection.Session.CloseSent) break;
                // Over the send limit the item follows Limits:SlowConsumerPolicy (dropped and counted, or 1008).
                connection.Replies.SendData(call, enumerator.Current, outputInfo);
            }
            if (!call.IsCancelled && !connection.Session.CloseSent)
            {
                await connection.Session.WaitForSendRoomAsync().ConfigureAwait(false);
                connection.Replies.SendDone(call);
            }
        }
        catch (Exception ex)
        {
            connection.Replies.Fail(call, ex);
        }
        finally
        {
            if (enumerator is not null)
            {
                try { await enumerator.DisposeAsync().ConfigureAwait(false); }
                catch (Exception ex) { connection.Faults.HandlerFailed(call.Path, ex); }
            }
            connection.Calls.End(call);
        }
    }
}
