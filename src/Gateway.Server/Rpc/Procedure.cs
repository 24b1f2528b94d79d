using System.Runtime.CompilerServices;
using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.Rpc;

namespace Gateway.Server.Rpc;

/// <summary>
/// A bound procedure. <see cref="Dispatch"/> runs on the connection's read loop while the message bytes
/// are valid: it deserializes the input from its raw slice, starts the handler and, when the handler
/// completes synchronously, writes the reply right there (no Task, no copy of the id).
/// </summary>
internal abstract class Procedure(ProcedureDescriptor descriptor)
{
    public ProcedureDescriptor Descriptor { get; } = descriptor;
    public string Name => Descriptor.Name;
    public ProcedureKind Kind => Descriptor.Kind;
    /// <summary>Slot of this procedure's per-connection rate limit, or -1.</summary>
    public int RateLimitSlot { get; set; } = -1;
    /// <summary>Deadline of one call in milliseconds; 0 = none.</summary>
    public long DeadlineMs { get; set; }

    public abstract void Dispatch(RpcConnection connection, ref Envelope envelope, in RequestId id);
}

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

internal sealed class SubscriptionProcedure<TIn, TOut>(ProcedureDescriptor descriptor, object? service,
    Func<object?, TIn, RpcContext, CancellationToken, IAsyncEnumerable<TOut>> invoker, JsonTypeInfo<TIn>? inputInfo, JsonTypeInfo<TOut> outputInfo)
    : Procedure(descriptor)
{
    public override void Dispatch(RpcConnection connection, ref Envelope envelope, in RequestId id)
    {
        if (!envelope.HasId)
        {
            // A stream needs an id to address its items; a notification can never be answered.
            connection.DroppedNotification(Name, "a subscription cannot be called as a notification");
            return;
        }
        if (!connection.TryReadInput(this, ref envelope, inputInfo, id, out TIn input)) return;
        var call = connection.BeginCall(this, id, hasId: true);
        connection.Track(call);
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
                connection.SendData(call, enumerator.Current, outputInfo);
            }
            if (!call.IsCancelled && !connection.Session.CloseSent)
            {
                await connection.Session.WaitForSendRoomAsync().ConfigureAwait(false);
                connection.SendDone(call);
            }
        }
        catch (Exception ex)
        {
            connection.Fail(call, ex);
        }
        finally
        {
            if (enumerator is not null)
            {
                try { await enumerator.DisposeAsync().ConfigureAwait(false); }
                catch (Exception ex) { connection.LogHandlerError(call, ex); }
            }
            connection.EndCall(call);
        }
    }
}
