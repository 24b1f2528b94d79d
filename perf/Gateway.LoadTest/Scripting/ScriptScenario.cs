using Gateway.Client;
using Gateway.LoadTest.Core;

namespace Gateway.LoadTest.Scripting;

/// <summary>What one step of a script gets: its virtual user's number and a connected <see cref="GatewayClient"/>.</summary>
public sealed class ScriptContext(int user, GatewayClient client, CancellationToken cancellation)
{
    /// <summary>The virtual user running the step (0-based).</summary>
    public int User { get; } = user;
    /// <summary>The connection this user steps on (shared by the users of one connection, calls run concurrently).</summary>
    public GatewayClient Client { get; } = client;
    /// <summary>Fires when the run ends early (Ctrl+C).</summary>
    public CancellationToken Cancellation { get; } = cancellation;
    /// <summary>Per-user state a script keeps between steps.</summary>
    public object? State { get; set; }
}

/// <summary>
/// A load script, as in NBomber: a name, an async step that uses a <see cref="GatewayClient"/>, and load simulations
/// (<see cref="KeepConstant"/>, <see cref="RampingConstant"/>, <see cref="Inject"/>, <see cref="Iterations"/>). It runs
/// on the load tool's runner, so it gets the same live display and reports (console, JSON, HTML) as the built-in
/// scenarios. A step that returns is OK; one that throws fails with the error's code (an <see cref="RpcException"/>)
/// or its type name. Build one with <see cref="LoadScript.Scenario"/>.
/// </summary>
public sealed class ScriptScenario : Scenario
{
    private readonly Func<ScriptContext, ValueTask> _step;
    private readonly Func<ScriptContext, ValueTask>? _initUser;
    private readonly RunSettings _settings;
    private readonly int _connections;
    private readonly List<GatewayClient> _clients = [];
    private readonly IReadOnlyList<(string, string)> _parameters;
    private CancellationToken _cancellation;

    internal ScriptScenario(string name, Func<ScriptContext, ValueTask> step, Func<ScriptContext, ValueTask>? initUser,
        IReadOnlyList<LoadSimulation> load, int connections, RunSettings settings, IReadOnlyList<(string, string)> parameters)
    {
        if (load.Count == 0) throw new ArgumentException("a script needs at least one load simulation");
        if (connections < 1) throw new ArgumentException("a script needs at least one connection");
        Name = name;
        _step = step;
        _initUser = initUser;
        Load = load;
        _connections = connections;
        _settings = settings;
        _parameters = parameters;
    }

    public override string Name { get; }
    public override IReadOnlyList<LoadSimulation> Load { get; }
    public override int MaxCopies => Load.Max(s => s switch
    {
        KeepConstant k => k.Copies,
        RampingConstant r => r.Copies,
        Iterations i => i.Copies,
        // Open model: enough users for the steps of one interval to overlap with the previous one's.
        Inject j => Math.Max(1, j.Rate * 2),
        _ => 1,
    });
    public override IReadOnlyList<(string Name, string Value)> Parameters =>
        [("connections", _connections.ToString(System.Globalization.CultureInfo.InvariantCulture)), .. _parameters];

    public override async Task InitAsync(RunContext context)
    {
        _cancellation = context.Cancellation;
        for (int i = 0; i < _connections; i++)
        {
            var client = new GatewayClient(_settings.Target.Url, o =>
            {
                o.DefaultCallTimeout = _settings.RequestTimeout;
                // --format msgpack measures the client's gateway.v1.msgpack codec, as it does the raw scenarios'.
                o.Format = _settings.Target.Protocol is Protocols.GatewayMsgPackProtocol ? GatewayWireFormat.MessagePack : GatewayWireFormat.Json;
                o.Reconnect.Enabled = false; // a lost connection is a measured failure, not something to hide
            });
            await client.ConnectAsync(context.Cancellation).ConfigureAwait(false);
            _clients.Add(client);
        }
        context.Log($"{Name}: {_connections} connection(s) open");
    }

    public override void InitUser(VirtualUser user)
    {
        var ctx = new ScriptContext(user.Index, _clients[user.Index % _clients.Count], _cancellation);
        user.State = ctx;
        if (_initUser is not null)
        {
            // Once per user before the load starts (join a room, log in): a failure here is a script error.
            _initUser(ctx).AsTask().GetAwaiter().GetResult();
        }
    }

    public override async ValueTask<StepResult> StepAsync(VirtualUser user)
    {
        var ctx = (ScriptContext)user.State!;
        try
        {
            await _step(ctx).ConfigureAwait(false);
            return StepResult.Ok;
        }
        catch (GatewayConnectionLostException)
        {
            return StepResult.FailAndStop(ErrorTable.Intern("connection lost"));
        }
        catch (RpcException ex)
        {
            return StepResult.Fail(ex.Code);
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
            return StepResult.OkAndStop;
        }
        catch (Exception ex)
        {
            return StepResult.Fail(ex.GetType().Name);
        }
    }

    /// <summary>Message payload bytes of every connection (the client does not see WebSocket framing).</summary>
    public override (long In, long Out) Bytes()
    {
        long i = 0, o = 0;
        foreach (var client in _clients)
        {
            i += client.BytesReceived;
            o += client.BytesSent;
        }
        return (i, o);
    }

    public override async Task CleanupAsync(RunContext context)
    {
        foreach (var client in _clients) await client.DisposeAsync().ConfigureAwait(false);
        _clients.Clear();
    }
}

/// <summary>The scripting API's entry point: <c>LoadScript.Scenario("chat").WithStep(...).WithLoad(...)</c>.</summary>
public static class LoadScript
{
    public static ScriptBuilder Scenario(string name) => new(name);
}

/// <summary>Builds a <see cref="ScriptScenario"/>.</summary>
public sealed class ScriptBuilder(string name)
{
    private Func<ScriptContext, ValueTask>? _step;
    private Func<ScriptContext, ValueTask>? _init;
    private readonly List<LoadSimulation> _load = [];
    private readonly List<(string, string)> _parameters = [];
    private int _connections = 1;

    /// <summary>The step, run again and again by each virtual user (closed models) or once per injection (open model).</summary>
    public ScriptBuilder WithStep(Func<ScriptContext, ValueTask> step) { _step = step; return this; }
    /// <summary>Runs once per virtual user before the load starts.</summary>
    public ScriptBuilder WithUserInit(Func<ScriptContext, ValueTask> init) { _init = init; return this; }
    /// <summary>The load simulations, in order.</summary>
    public ScriptBuilder WithLoad(params LoadSimulation[] simulations) { _load.AddRange(simulations); return this; }
    /// <summary>How many connections the virtual users share (user i steps on connection i mod N). Default 1.</summary>
    public ScriptBuilder WithConnections(int connections) { _connections = connections; return this; }
    /// <summary>A parameter written in the reports.</summary>
    public ScriptBuilder WithParameter(string name, string value) { _parameters.Add((name, value)); return this; }

    public ScriptScenario Build(RunSettings settings) =>
        new(name, _step ?? throw new ArgumentException("a script needs a step (WithStep)"), _init, _load, _connections, settings, _parameters);
}
