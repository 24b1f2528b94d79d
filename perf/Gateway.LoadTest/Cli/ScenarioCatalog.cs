using System.CommandLine;
using Gateway.LoadTest.Core;
using Gateway.LoadTest.Scenarios;

namespace Gateway.LoadTest.Cli;

/// <summary>A scenario the command line offers: its name, its own options, and how to build it.</summary>
public interface IScenarioDefinition
{
    string Name { get; }
    Command CreateCommand(CommonOptions common);
}

/// <summary>
/// Every scenario of the tool. A new one (fanout, once topics exist) is a <see cref="Scenario"/> subclass
/// plus one definition here.
/// </summary>
public static class ScenarioCatalog
{
    public static IReadOnlyList<IScenarioDefinition> All { get; } =
    [
        new RequestScenarioDefinition("rpc", RequestKind.Echo,
            "Unary echo: C connections, each keeping K requests in flight (pipelined) on echo/echo with a P-byte text",
            connections: 50, inflight: 16, payload: 64),
        new RequestScenarioDefinition("stream", RequestKind.Stream,
            "Subscriptions: C connections subscribing to echo/count (n items) again and again; items/s and per-item latency",
            connections: 50, inflight: 1, payload: 0),
        new ConnectionsScenarioDefinition(),
        new RequestScenarioDefinition("large", RequestKind.Echo,
            "Large messages: echo of 1 MiB texts on a few connections, one in flight each",
            connections: 4, inflight: 1, payload: 1024 * 1024),
    ];
}

public sealed class RequestScenarioDefinition(string name, RequestKind kind, string description, int connections, int inflight, int payload) : IScenarioDefinition
{
    public string Name => name;

    public Command CreateCommand(CommonOptions common)
    {
        var command = new Command(name, description);
        var connectionsOption = Options.Int("--connections", connections, $"Connections", 1, "-c");
        var inflightOption = Options.Int("--inflight", inflight, $"Requests in flight per connection", 1, "-k");
        var duration = Options.Time("--duration", TimeSpan.FromSeconds(10), "Measured time");
        var warmup = Options.Time("--warmup", TimeSpan.FromSeconds(2), "Warm-up before measuring, not recorded");
        var load = new Option<string>("--load")
        {
            Description = "Load simulation, a comma-separated list of keep[:COPIES][@TIME], ramp[:COPIES][@TIME], inject:RATE[/INTERVAL][@TIME]; " +
                          "COPIES defaults to connections×inflight, TIME to --duration",
            DefaultValueFactory = _ => "keep",
        };
        Option<int> sizeOption = kind == RequestKind.Echo
            ? Options.Int("--payload", payload, $"Bytes of text in each request", 0, "-s")
            : Options.Int("--items", 1000, "Items per subscription", 0, "-n");
        command.Add(connectionsOption);
        command.Add(inflightOption);
        command.Add(sizeOption);
        command.Add(duration.Option);
        command.Add(warmup.Option);
        command.Add(load);
        command.SetAction((parse, ct) => App.RunAsync(parse, common, settings =>
        {
            int c = parse.GetValue(connectionsOption), k = parse.GetValue(inflightOption), size = parse.GetValue(sizeOption);
            if (k >= Protocols.WireProtocol.MaxSlots) throw new ArgumentException($"--inflight must be below {Protocols.WireProtocol.MaxSlots}");
            if ((long)c * k > 1_000_000) throw new ArgumentException("--connections × --inflight must be at most 1,000,000");
            var d = duration.Get(parse);
            if (d <= TimeSpan.Zero) throw new ArgumentException("--duration must be positive");
            var w = warmup.Get(parse);
            string spec = parse.GetValue(load) ?? "keep";
            var simulations = LoadSpec.Parse(spec, c * k, d, w);
            return new RequestScenario(name, kind, c, k, kind == RequestKind.Echo ? size : 0, kind == RequestKind.Stream ? size : 0,
                simulations, spec, d, w, settings);
        }));
        return command;
    }
}

public sealed class ConnectionsScenarioDefinition : IScenarioDefinition
{
    public string Name => "connections";

    public Command CreateCommand(CommonOptions common)
    {
        var command = new Command(Name, "Idle connections: open N, hold them, report the server's RSS growth per connection (needs --server-pid)");
        var count = Options.Int("--count", 1000, "Connections to open", 1, "-n");
        var hold = Options.Time("--hold", TimeSpan.FromSeconds(5), "How long to hold them open once all are connected");
        var settle = Options.Time("--settle", TimeSpan.FromSeconds(1), "With --server-pid: wait this long before sampling the server's baseline RSS");
        var concurrency = Options.Int("--concurrency", 100, "Connects in progress at once");
        var perSource = Options.Int("--per-source", 20000, "Connections per source address before moving to the next 127.0.0.k", 100);
        command.Add(count);
        command.Add(hold.Option);
        command.Add(settle.Option);
        command.Add(concurrency);
        command.Add(perSource);
        command.SetAction((parse, ct) => App.RunAsync(parse, common, settings =>
            new ConnectionsScenario(parse.GetValue(count), hold.Get(parse), settle.Get(parse), parse.GetValue(concurrency), parse.GetValue(perSource), settings)));
        return command;
    }
}
