namespace Gateway.Server.Rpc;

/// <summary>
/// The result of a handler that returns nothing (void, Task, ValueTask): lets request and void procedures share
/// one invoker, <see cref="RequestProcedure{TIn, TOut}"/>, whose reply is then <c>"result":null</c>.
/// </summary>
internal readonly struct NoOutput
{
    /// <summary>Adapts a handler's <see cref="ValueTask"/>; a completed one costs nothing (no state machine, no box).</summary>
    public static ValueTask<NoOutput> From(ValueTask pending)
    {
        if (!pending.IsCompletedSuccessfully) return AwaitAsync(pending);
        pending.GetAwaiter().GetResult();
        return default;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<NoOutput> AwaitAsync(ValueTask pending)
    {
        await pending.ConfigureAwait(false);
        return default;
    }
}
