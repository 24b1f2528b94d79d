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
        var session = connection.Session;
        // Items the handler yields without waiting go out in batches (StreamBatch); on a compressed session one by
        // one, because the outbox deflates each queued frame as one message.
        var batch = session.Compression is null ? new StreamBatch(session, connection.Codec, call.Id) : null;
        try
        {
            enumerator = invoker(service, input, call, call.CancellationToken).GetAsyncEnumerator(call.CancellationToken);
            if (batch is not null)
            {
                call.StreamBatch = batch;
                batch.OwnerThread = Environment.CurrentManagedThreadId;
            }
            while (true)
            {
                var next = enumerator.MoveNextAsync();
                bool more;
                if (next.IsCompleted) more = next.GetAwaiter().GetResult();
                else
                {
                    // The handler waits: what it produced so far goes out now, not after its next item.
                    if (batch is not null)
                    {
                        batch.Flush(call);
                        batch.OwnerThread = 0;
                    }
                    more = await next.ConfigureAwait(false);
                    if (batch is not null) batch.OwnerThread = Environment.CurrentManagedThreadId;
                }
                if (!more || call.IsCancelled || session.CloseSent) break;
                if (batch is null)
                {
                    // Over the send limit the item follows Limits:SlowConsumerPolicy (dropped and counted, or 1008).
                    connection.Replies.SendData(call, enumerator.Current, outputInfo);
                }
                else if (batch.HasRoom())
                {
                    batch.Add(enumerator.Current, outputInfo);
                    if (batch.Length >= StreamBatch.TargetBytes) batch.Flush(call);
                }
                else
                {
                    // This item would take the session over its send limit: what is built goes first (a gapless
                    // prefix), then the item alone follows Limits:SlowConsumerPolicy (dropped and counted, or 1008).
                    batch.Flush(call);
                    connection.Replies.SendData(call, enumerator.Current, outputInfo);
                }
            }
            batch?.Flush(call);
            if (!call.IsCancelled && !session.CloseSent)
            {
                await session.WaitForSendRoomAsync().ConfigureAwait(false);
                connection.Replies.SendDone(call);
            }
        }
        finally
        {
            if (batch is not null)
            {
                call.StreamBatch = null;
                batch.OwnerThread = 0;
                // The handler failed: the items it yielded before go out ahead of its error (sent by the caller).
                batch.Flush(call);
                batch.Discard();
            }
            if (enumerator is not null)
            {
                try { await enumerator.DisposeAsync().ConfigureAwait(false); }
                catch (Exception ex) { connection.Faults.HandlerFailed(call.Path, ex); }
            }
        }
    }
}
