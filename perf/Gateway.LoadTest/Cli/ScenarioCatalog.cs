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
/// Every scenario of the tool. A new one is a <see cref="Scenario"/> subclass plus one definition here.
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
        new FanoutScenarioDefinition(),
        new Scripting.CallCommand(),
        new Scripting.ChatScriptCommand(),
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
        var payloadKind = PayloadKindOption.Create();
        if (kind == RequestKind.Echo) command.Add(payloadKind);
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
                simulations, spec, d, w, settings, parse.GetValue(payloadKind) ?? "alphabet");
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

public sealed class FanoutScenarioDefinition : IScenarioDefinition
{
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>The chat sample's limit on a message's text.</summary>
    private const int MaxText = 4000;

    public string Name => "fanout";

    public Command CreateCommand(CommonOptions common)
    {
        var command = new Command(Name,
            "Topic fan-out: S subscribers on one topic, P publishers each keeping K chat/send publishes in flight; " +
            "delivered events/s, expected vs received deliveries, publish-to-receive latency (gateway protocol, sample plugin)");
        var subscribers = Options.Int("--subscribers", 1000, "Subscriber connections, all on --topic", 1, "-n");
        var publishers = Options.Int("--publishers", 1, $"Publisher connections (at most {Protocols.FanoutText.MaxPublishers})", 1, "-c");
        var inflight = Options.Int("--inflight", 16, "Publishes in flight per publisher connection", 1, "-k");
        var topic = new Option<string>("--topic")
        {
            Description = "The topic, room:NAME (chat/send publishes to room:NAME; NAME is 1 to 64 letters, digits, '-', '_' or '.')",
            DefaultValueFactory = _ => "room:bench",
        };
        var subscribe = new Option<string>("--subscribe")
        {
            Description = "How subscribers join: subscribe ($subscribe {topic}, needs the topic in Gateway:Topics:ClientSubscribe) or join (chat/join {room})",
            DefaultValueFactory = _ => "subscribe",
        };
        subscribe.AcceptOnlyFromAmong("subscribe", "join");
        var payload = Options.Int("--payload", 64, $"Bytes of text in each publish: the {Protocols.FanoutText.HeaderLength}-byte stamp (send time, publisher, sequence) plus padding", Protocols.FanoutText.HeaderLength, "-s");
        var duration = Options.Time("--duration", TimeSpan.FromSeconds(10), "Measured time");
        var warmup = Options.Time("--warmup", TimeSpan.FromSeconds(2), "Warm-up before measuring, not recorded");
        var drain = Options.Time("--drain", TimeSpan.FromSeconds(5), "After the window: the longest wait for its events still in flight");
        var perSource = Options.Int("--per-source", 20000, "Connections per source address before moving to the next 127.0.0.k", 100);
        var mixed = new Option<bool>("--mixed-formats")
        {
            Description = "Every other subscriber speaks the gateway's other wire format (gateway.v1.msgpack with --format json, and the reverse): " +
                          "one publish goes to a mixed JSON/MessagePack audience (gateway protocol only)",
        };
        var completions = new Option<string>("--socket-completions")
        {
            Description = "inline: socket completions run on the epoll thread (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1), which saves the " +
                          "subscribers a thread-pool hop per read; pool: the runtime's default (thread pool), as the other scenarios run",
            DefaultValueFactory = _ => "inline",
        };
        completions.AcceptOnlyFromAmong("inline", "pool");
        var load = new Option<string>("--load")
        {
            Description = "Load simulation of the publishers: keep[:COPIES][@TIME], ramp[:COPIES][@TIME], inject:RATE[/INTERVAL][@TIME] (RATE publishes per INTERVAL); " +
                          "COPIES defaults to publishers×inflight, TIME to --duration",
            DefaultValueFactory = _ => "keep",
        };
        var payloadKind = PayloadKindOption.Create();
        var inflateSample = Options.Int("--inflate-sample", 1,
            "Every Nth subscriber reads each event (inflates it when compressed, reads its stamp: latency, order, window); the others " +
            "check each frame and count it unread, compressed or not, so both runs of a compressed-vs-plain pair give the client the same work " +
            "(gateway protocol; 1 = all read)", 1);
        foreach (var option in new Option[] { subscribers, publishers, inflight, topic, subscribe, payload, payloadKind, duration.Option, warmup.Option, drain.Option, perSource, mixed, completions, load, inflateSample })
            command.Add(option);
        command.SetAction((parse, ct) => App.RunAsync(parse, common, settings =>
        {
            if (!settings.Target.Protocol.HasTopics)
                throw new ArgumentException($"fanout needs topics, which the {settings.Target.Protocol.Name} protocol has not");
            int s = parse.GetValue(subscribers), p = parse.GetValue(publishers), k = parse.GetValue(inflight), size = parse.GetValue(payload);
            if (p > Protocols.FanoutText.MaxPublishers) throw new ArgumentException($"--publishers must be at most {Protocols.FanoutText.MaxPublishers}");
            if (k >= Protocols.WireProtocol.MaxSlots) throw new ArgumentException($"--inflight must be below {Protocols.WireProtocol.MaxSlots}");
            if ((long)p * k > 100_000) throw new ArgumentException("--publishers × --inflight must be at most 100,000");
            if (s > 1_000_000) throw new ArgumentException("--subscribers must be at most 1,000,000");
            if (size > MaxText) throw new ArgumentException($"--payload must be at most {MaxText} (the chat sample's limit on a text)");
            string t = parse.GetValue(topic) ?? "room:bench";
            string room = t.StartsWith("room:", StringComparison.Ordinal) ? FanoutScenario.RoomOf(t) : "";
            if (room.Length is 0 or > 64 || !room.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.'))
                throw new ArgumentException($"--topic '{t}': must be room:NAME, NAME 1 to 64 letters, digits, '-', '_' or '.' (chat/send publishes to room:NAME)");
            var via = parse.GetValue(subscribe) == "join" ? SubscribeVia.Join : SubscribeVia.Subscribe;
            var d = duration.Get(parse);
            if (d <= TimeSpan.Zero) throw new ArgumentException("--duration must be positive");
            var w = warmup.Get(parse);
            string spec = parse.GetValue(load) ?? "keep";
            var simulations = LoadSpec.Parse(spec, p * k, d, w);
            // Read once by the runtime when the first socket is created, which has not happened yet.
            bool inline = parse.GetValue(completions) != "pool";
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, inline ? "1" : "0");
            bool mixedFormats = parse.GetValue(mixed);
            if (mixedFormats && settings.Target.Protocol is not (Protocols.GatewayProtocol or Protocols.GatewayMsgPackProtocol))
                throw new ArgumentException("--mixed-formats mixes the gateway's JSON and MessagePack formats: it needs --protocol gateway");
            int sample = parse.GetValue(inflateSample);
            // A SignalR message may carry several records (events): counting messages unread would not count events.
            if (sample > 1 && settings.Target.Protocol is not (Protocols.GatewayProtocol or Protocols.GatewayMsgPackProtocol))
                throw new ArgumentException("--inflate-sample above 1 counts one event per message, which holds for the gateway protocol only");
            return new FanoutScenario(s, p, k, t, via, size, parse.GetValue(perSource), drain.Get(parse), inline, mixedFormats, simulations, spec, d, w, settings,
                parse.GetValue(payloadKind) ?? "alphabet", sample);
        }));
        return command;
    }
}

/// <summary>--payload-kind: what fills the payload text.</summary>
public static class PayloadKindOption
{
    public static Option<string> Create()
    {
        var option = new Option<string>("--payload-kind")
        {
            Description = "alphabet: the alphabet repeated (compresses to almost nothing); text: chat-like sentences of words, names and numbers, " +
                          "which compress like real messages (use it with --deflate)",
            DefaultValueFactory = _ => "alphabet",
        };
        option.AcceptOnlyFromAmong("alphabet", "text");
        return option;
    }
}
