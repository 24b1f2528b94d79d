namespace Gateway.Server.Rpc;

/// <summary>
/// The plugins' <see cref="IRpcFilter"/>s chained once at startup, the first registered outermost, ending in the
/// handler. A call through it costs one <see cref="FilteredCall"/>; procedures have none when no filter is registered.
/// </summary>
internal sealed class RpcFilterPipeline
{
    private readonly RpcFilterDelegate _entry;

    public RpcFilterPipeline(IReadOnlyList<IRpcFilter> filters)
    {
        RpcFilterDelegate next = static context => ((FilteredCall)context).InvokeHandlerAsync();
        for (int i = filters.Count - 1; i >= 0; i--)
        {
            var filter = filters[i];
            var inner = next;
            next = context => filter.InvokeAsync(context, inner);
        }
        _entry = next;
    }

    /// <summary>Runs the filters and the handler; throws what they throw.</summary>
    public ValueTask RunAsync(FilteredCall call) => _entry(call);
}
