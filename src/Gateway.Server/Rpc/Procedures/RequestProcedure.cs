using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.Rpc;

namespace Gateway.Server.Rpc;

/// <summary>
/// The one invoker of requests and notifications, whether the handler returns a value (<typeparamref name="TOut"/>) or
/// nothing (<see cref="NoOutput"/>): a synchronous completion is answered on the read loop, the rest when it completes.
/// </summary>
internal sealed class RequestProcedure<TIn, TOut>(ProcedureDescriptor descriptor, object? service,
    Func<object?, TIn, RpcContext, CancellationToken, ValueTask<TOut>> invoker, JsonTypeInfo<TIn>? inputInfo, JsonTypeInfo<TOut>? outputInfo)
    : Procedure(descriptor)
{
    public override void Dispatch(RpcConnection connection, ref Envelope envelope, in Codec.RequestId id)
    {
        if (!InputReader.TryRead(connection, this, ref envelope, inputInfo, id, out TIn input)) return;
        var call = connection.Calls.Begin(this, id, envelope);
        if (Filters is { } filters)
        {
            connection.Calls.Track(call);
            using var filteredScope = GatewayTracing.Enter(call.Activity);
            _ = RunFilteredAsync(connection, call, new FilteredRequest<TIn, TOut>(call, input, service, invoker, inputInfo is not null), filters);
            return;
        }
        ValueTask<TOut> pending;
        // The handler runs under the call's span (its continuations keep it); the read loop gets its own back after.
        var scope = GatewayTracing.Enter(call.Activity);
        try
        {
            pending = invoker(service, input, call, call.CancellationToken);
        }
        catch (Exception ex)
        {
            scope.Dispose();
            connection.Replies.Fail(call, ex);
            connection.Calls.End(call);
            return;
        }
        scope.Dispose();
        if (pending.IsCompletedSuccessfully)
        {
            Reply(connection, call, pending.Result);
            connection.Calls.End(call);
            return;
        }
        connection.Calls.Track(call);
        _ = CompleteAsync(connection, call, pending);
    }

    // A handler that returns nothing (TOut is NoOutput, no type info) answers "result":null.
    private void Reply(RpcConnection connection, RpcCall call, TOut result)
    {
        if (outputInfo is null) connection.Replies.SendNullResult(call);
        else connection.Replies.SendResult(call, result, outputInfo);
    }

    // With filters (IRpcFilter) the call always leaves the synchronous path: the filters may await anything.
    private async Task RunFilteredAsync(RpcConnection connection, RpcCall call, FilteredRequest<TIn, TOut> filtered, RpcFilterPipeline filters)
    {
        try
        {
            await filters.RunAsync(filtered).ConfigureAwait(false);
            if (!filtered.Completed) throw FilteredCall.NoResult(Name);
            await connection.Session.WaitForSendRoomAsync().ConfigureAwait(false);
            Reply(connection, call, filtered.Result);
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

    private async Task CompleteAsync(RpcConnection connection, RpcCall call, ValueTask<TOut> pending)
    {
        try
        {
            var result = await pending.ConfigureAwait(false);
            // A reply is never dropped: wait for the client to drain, the call still counting as in flight.
            await connection.Session.WaitForSendRoomAsync().ConfigureAwait(false);
            Reply(connection, call, result);
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
}
