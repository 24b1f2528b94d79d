namespace Gateway.Server.Rpc;

/// <summary>One call going through the filters: what they see of it, and the handler at the end of the pipeline.</summary>
internal abstract class FilteredCall(RpcCall call, RpcCallKind kind) : RpcFilterContext
{
    protected RpcCall Call { get; } = call;
    public override RpcContext Context => Call;
    public override RpcCallKind Kind => kind;

    /// <summary>Whether the handler ran to its end (a result, or a stream that finished) inside the pipeline.</summary>
    public bool Completed { get; protected set; }

    /// <summary>The end of the pipeline: runs the handler.</summary>
    public abstract ValueTask InvokeHandlerAsync();

    /// <summary>What a call gets when its filters returned without the handler's result (answered INTERNAL, logged).</summary>
    public static InvalidOperationException NoResult(string path) =>
        new($"the filters of '{path}' completed without the handler's result: an IRpcFilter must await next or throw");

    public static RpcCallKind KindOf(RpcCall call) =>
        call.Procedure.Kind == ProcedureKind.Subscription ? RpcCallKind.Subscription : call.HasId ? RpcCallKind.Request : RpcCallKind.Notification;
}

/// <summary>A request or notification through the filters; the handler's result is kept for the reply.</summary>
internal sealed class FilteredRequest<TIn, TOut>(RpcCall call, TIn input, object? service,
    Func<object?, TIn, RpcContext, CancellationToken, ValueTask<TOut>> invoker, bool hasInput)
    : FilteredCall(call, KindOf(call))
{
    public TOut Result { get; private set; } = default!;

    public override object? Input => hasInput ? input : null;

    public override async ValueTask InvokeHandlerAsync()
    {
        Result = await invoker(service, input, Call, Call.CancellationToken).ConfigureAwait(false);
        Completed = true;
    }
}

/// <summary>A subscription through the filters: the pipeline's end streams every item and the end of the stream.</summary>
internal sealed class FilteredStream<TIn>(RpcCall call, TIn input, Func<Task> stream, bool hasInput) : FilteredCall(call, RpcCallKind.Subscription)
{
    public override object? Input => hasInput ? input : null;

    public override async ValueTask InvokeHandlerAsync()
    {
        await stream().ConfigureAwait(false);
        Completed = true;
    }
}
