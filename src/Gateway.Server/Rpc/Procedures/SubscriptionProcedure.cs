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
            Stats.Count(ErrorCode.InvalidArgument);
            connection.Faults.DroppedNotification(Name, "a subscription cannot be called as a notification");
            return;
        }
        if (!InputReader.TryRead(connection, this, ref envelope, inputInfo, id, out TIn input)) return;
        var call = connection.Calls.Begin(this, id, envelope);
        connection.Calls.Track(call);
        // The stream's task captures the span as current: the handler's own outgoing calls continue the trace.
        using (GatewayTracing.Enter(call.Activity)) _ = StreamAsync(connection, call, input);
    }

    private async Task StreamAsync(RpcConnection connection, RpcCall call, TIn input)
    {
        // Leave the read loop first: the iterator may produce many items synchronously.
        await Task.Yield();
        try
        {
            if (Filters is { } filters)
            {
                // The filters wrap the whole stream: their next completes when it has ended.
                var filtered = new FilteredStream<TIn>(call, input, () => RunStreamAsync(connection, call, input), inputInfo is not null);
                await filters.RunAsync(filtered).ConfigureAwait(false);
                if (!filtered.Completed) throw FilteredCall.NoResult(Name);
            }
            else
            {
                await RunStreamAsync(connection, call, input).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            connection.Replies.Fail(call, ex);
        }
        finally
        {
            connection.Calls.End(call);
        }
    }

    /// <summary>Sends every item and the end of the stream; throws what the iterator throws.</summary>
    private async Task RunStreamAsync(RpcConnection connection, RpcCall call, TIn input)
    {
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
        finally
        {
            if (enumerator is not null)
            {
                try { await enumerator.DisposeAsync().ConfigureAwait(false); }
                catch (Exception ex) { connection.Faults.HandlerFailed(call.Path, ex); }
            }
        }
    }
}
