using System.Runtime.CompilerServices;
using Gateway.TestPlugin.Dependency;

namespace Gateway.TestPlugin;

public sealed class KeyInput
{
    public string Key { get; set; } = "";
    /// <summary>For the test/was* queries: how long to wait for the observation (default 5000 ms).</summary>
    public int TimeoutMs { get; set; }
    /// <summary>For test/ticks: pause between items.</summary>
    public int DelayMs { get; set; }
}

public sealed class CountQuery
{
    public int Count { get; set; }
    public int TimeoutMs { get; set; }
}

public sealed class SeqInput
{
    public long Seq { get; set; }
}

public sealed class HeaderQuery
{
    public string Name { get; set; } = "";
}

public sealed record Point(int X, int Y);

public sealed record DependencyReport(string Marker, string Assembly, string LoadContext, string Location, string PluginLoadContext);

/// <summary>Procedures for the RPC integration tests.</summary>
[RpcService("test")]
public sealed class TestService(TestState state, GreetingOptions greeting)
{
    private static TimeSpan Timeout(int ms) => TimeSpan.FromMilliseconds(ms > 0 ? ms : 5000);

    // ---- cancellation observers -----------------------------------------------------------------

    // Cancellation is recorded by a callback on the token and, in case the handler's own continuation runs inline inside
    // Cancel() and ends the method first, again when the handler ends with its token cancelled. The registration is not
    // disposed on purpose: disposing it from that inline continuation would unregister the callback before it ran.
    private void ObserveCancellation(string key, CancellationToken cancellationToken) =>
        cancellationToken.Register(static s => ((Action)s!)(), (Action)(() => state.MarkCancelled(key)));

    private void End(string key, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) state.MarkCancelled(key);
        state.MarkEnded(key);
    }

    private async Task<string> WaitCoreAsync(string key, CancellationToken cancellationToken)
    {
        ObserveCancellation(key, cancellationToken);
        state.MarkStarted(key);
        try
        {
            await state.ReleaseTask(key).WaitAsync(cancellationToken);
            return key;
        }
        finally
        {
            End(key, cancellationToken);
        }
    }

    /// <summary>Waits until test/release {key} or until its token fires (recording that it fired).</summary>
    [Rpc("wait")]
    public Task<string> Wait(KeyInput input, CancellationToken cancellationToken) => WaitCoreAsync(input.Key, cancellationToken);

    /// <summary>The same as test/wait, as a notification (never answered).</summary>
    [Notification("waitNote")]
    public async Task WaitNote(KeyInput input, CancellationToken cancellationToken) => await WaitCoreAsync(input.Key, cancellationToken);

    /// <summary>Lets test/wait {key} finish normally.</summary>
    [Rpc("release")]
    public bool Release(KeyInput input) => state.Release(input.Key);

    /// <summary>Streams 0, 1, 2… until cancelled (recording that its token fired).</summary>
    [Subscription("ticks")]
    public async IAsyncEnumerable<int> Ticks(KeyInput input, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ObserveCancellation(input.Key, cancellationToken);
        state.MarkStarted(input.Key);
        try
        {
            for (int i = 0; i < 1_000_000; i++)
            {
                await Task.Delay(input.DelayMs > 0 ? input.DelayMs : 5, cancellationToken);
                yield return i;
            }
        }
        finally
        {
            End(input.Key, cancellationToken);
        }
    }

    [Rpc("wasStarted")]
    public Task<bool> WasStarted(KeyInput input) => state.WasStartedAsync(input.Key, Timeout(input.TimeoutMs));

    [Rpc("wasCancelled")]
    public Task<bool> WasCancelled(KeyInput input) => state.WasCancelledAsync(input.Key, Timeout(input.TimeoutMs));

    [Rpc("wasEnded")]
    public Task<bool> WasEnded(KeyInput input) => state.WasEndedAsync(input.Key, Timeout(input.TimeoutMs));

    /// <summary>Waits (bounded) until at least count waits/streams started; answers how many did.</summary>
    [Rpc("waitStarted")]
    public Task<int> WaitStarted(CountQuery input) => state.WaitStartedAsync(input.Count, Timeout(input.TimeoutMs));

    [Rpc("startedKeys")]
    public string[] StartedKeys() => state.StartedKeys();

    [Rpc("events")]
    public string[] Events() => state.Events();

    // ---- ordering --------------------------------------------------------------------------------

    [Rpc("order")]
    public long Order(SeqInput input)
    {
        state.RecordOrder(input.Seq);
        return input.Seq;
    }

    [Rpc("orderLog")]
    public long[] OrderLog() => state.Order();

    /// <summary>Answers its input after leaving the read loop (the asynchronous path).</summary>
    [Rpc("echoAsync")]
    public async Task<long> EchoAsync(SeqInput input)
    {
        await Task.Yield();
        return input.Seq;
    }

    // ---- every return shape ----------------------------------------------------------------------

    [Rpc("sync")]
    public int Sync() => 42;

    [Rpc("task")]
    public Task<string> TaskOfT() => Task.FromResult("task");

    [Rpc("taskYield")]
    public async Task<string> TaskOfTYield()
    {
        await Task.Yield();
        return "taskYield";
    }

    [Rpc("valuetaskT")]
    public ValueTask<string> ValueTaskOfT() => new("valuetaskT");

    [Rpc("valuetaskTYield")]
    public async ValueTask<string> ValueTaskOfTYield()
    {
        await Task.Yield();
        return "valuetaskTYield";
    }

    [Rpc("void")]
    public void Void(KeyInput input) => state.Record("void:" + input.Key);

    [Rpc("nothing")]
    public Task Nothing(KeyInput input)
    {
        state.Record("nothing:" + input.Key);
        return Task.CompletedTask;
    }

    [Rpc("nothingYield")]
    public async Task NothingYield(KeyInput input)
    {
        await Task.Yield();
        state.Record("nothingYield:" + input.Key);
    }

    [Rpc("valuetask")]
    public ValueTask ValueTaskVoid(KeyInput input)
    {
        state.Record("valuetask:" + input.Key);
        return default;
    }

    [Rpc("valuetaskYield")]
    public async ValueTask ValueTaskVoidYield(KeyInput input)
    {
        await Task.Yield();
        state.Record("valuetaskYield:" + input.Key);
    }

    // ---- context, inputs, configuration, dependencies -------------------------------------------

    /// <summary>Counts its calls in the connection's items.</summary>
    [Rpc("items")]
    public int Items(RpcContext context)
    {
        int n = context.Items.TryGetValue("test.count", out var v) && v is int i ? i + 1 : 1;
        context.Items["test.count"] = n;
        return n;
    }

    [Rpc("headers")]
    public string? Headers(HeaderQuery input, RpcContext context) =>
        context.RequestHeaders.TryGetValue(input.Name, out var value) ? value : null;

    [Rpc("connectionId")]
    public string ConnectionId(RpcContext context) => context.ConnectionId;

    [Rpc("path")]
    public string PathOf(RpcContext context) => context.Path;

    [Rpc("int")]
    public int Double(int value) => value * 2;

    [Rpc("record")]
    public Point Swap(Point point) => new(point.Y, point.X);

    [Rpc("optional")]
    public string Optional(KeyInput? input) => input is null ? "(no input)" : input.Key;

    [Rpc("greet")]
    public string Greet() => greeting.Greeting;

    [Rpc("dep")]
    public DependencyReport Dep() => new(
        DependencyInfo.Marker,
        DependencyInfo.AssemblyName,
        DependencyInfo.LoadContextName,
        DependencyInfo.Location,
        System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(typeof(TestService).Assembly)?.Name ?? "(none)");
}
