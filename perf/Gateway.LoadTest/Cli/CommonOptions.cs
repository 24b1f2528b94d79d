using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Gateway.LoadTest.Core;
using Gateway.LoadTest.Net;
using Gateway.LoadTest.Protocols;

namespace Gateway.LoadTest.Cli;

/// <summary>The options every scenario command takes (declared once on the root, recursive).</summary>
public sealed class CommonOptions
{
    public Option<string?> Url { get; } = new("--url", "-u")
    {
        Description = "WebSocket URL of the server; loopback only (127.x.x.x, localhost, [::1]). Default ws://127.0.0.1:8080/ws (gateway) or ws://127.0.0.1:8080/hub (signalr)",
        Recursive = true,
    };

    public Option<string> Protocol { get; } = CreateProtocol();

    private static Option<string> CreateProtocol()
    {
        var option = new Option<string>("--protocol", "-p")
        {
            Description = "gateway: the gateway's JSON envelope; signalr: SignalR's JSON hub protocol (hub methods Echo, Count)",
            DefaultValueFactory = _ => "gateway",
            Recursive = true,
        };
        option.AcceptOnlyFromAmong("gateway", "signalr");
        return option;
    }

    public Option<string> Format { get; } = CreateFormat();

    private static Option<string> CreateFormat()
    {
        var option = new Option<string>("--format", "-f")
        {
            Description = "Wire format of the gateway protocol: json (gateway.v1.json, text frames) or msgpack (gateway.v1.msgpack, one binary frame per message)",
            DefaultValueFactory = _ => "json",
            Recursive = true,
        };
        option.AcceptOnlyFromAmong("json", "msgpack");
        return option;
    }

    public Option<int?> ServerPid { get; } = new("--server-pid")
    {
        Description = "PID of the server process: its RSS (VmRSS) and CPU are sampled from /proc before and after",
        Recursive = true,
    };

    public Option<string?> Out { get; } = new("--out", "-o")
    {
        Description = "File prefix for the reports: PREFIX-SCENARIO.md/.csv/.json (a bare name goes into the results directory). Default LABEL-SCENARIO-TIMESTAMP",
        Recursive = true,
    };

    public Option<string?> Label { get; } = new("--label", "-l")
    {
        Description = "Name of the system under test written in the results (gateway, kestrel, signalr, ...). Default: the protocol",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Also write a machine-readable JSON summary",
        Recursive = true,
    };

    public Option<bool> Html { get; } = new("--html")
    {
        Description = "Also write an HTML report",
        Recursive = true,
    };

    public Option<string?> ResultsDir { get; } = new("--results-dir")
    {
        Description = "Where reports go. Default: perf/results of the repository the tool runs in (else ./perf/results)",
        Recursive = true,
    };

    public TimeOption Timeout { get; } = Options.Time("--timeout", TimeSpan.FromSeconds(30), "A request without its reply after this long fails", recursive: true);

    public Option<bool> Plain { get; } = new("--plain")
    {
        Description = "Plain progress lines instead of the live display (automatic when stdout is redirected or CI=true)",
        Recursive = true,
    };

    public Option<bool> Deflate { get; } = new("--deflate")
    {
        Description = "Offer permessage-deflate (client_no_context_takeover; server_no_context_takeover): the client compresses each message it sends "
            + "and inflates the server's compressed ones with the gateway's own zlib code; reports add the bytes before compression",
        Recursive = true,
    };

    public IEnumerable<Option> All => [Url, Protocol, Format, ServerPid, Out, Label, Json, Html, ResultsDir, Timeout.Option, Plain, Deflate];

    /// <summary>Validates and resolves the shared options; throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public RunSettings ToSettings(ParseResult parse)
    {
        var protocol = WireProtocol.Create(parse.GetValue(Protocol) ?? "gateway", parse.GetValue(Format) ?? "json");
        string url = parse.GetValue(Url) ?? (protocol is SignalRProtocol ? "ws://127.0.0.1:8080/hub" : "ws://127.0.0.1:8080/ws");
        var target = ResolveTarget(url, protocol) with { Deflate = parse.GetValue(Deflate) };

        int? pid = parse.GetValue(ServerPid);
        if (pid is { } p && !ProcessProbe.Exists(p))
            throw new ArgumentException($"--server-pid {p}: no such process (/proc/{p}/status is not readable)");

        var timeout = Timeout.Get(parse);
        if (timeout <= TimeSpan.Zero) throw new ArgumentException("--timeout must be positive");

        return new RunSettings
        {
            Target = target,
            Label = parse.GetValue(Label) ?? protocol.Name,
            ServerPid = pid,
            OutPrefix = parse.GetValue(Out),
            ResultsDirectory = parse.GetValue(ResultsDir) is { } dir ? Path.GetFullPath(dir) : DefaultResultsDirectory(),
            WriteJson = parse.GetValue(Json),
            WriteHtml = parse.GetValue(Html),
            RequestTimeout = timeout,
            PlainOutput = parse.GetValue(Plain) || Console.IsOutputRedirected
                || string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)
                || Environment.GetEnvironmentVariable("TERM") == "dumb",
        };
    }

    /// <summary>Parses the URL and refuses anything but a loopback target: this tool never loads a remote host.</summary>
    public static ConnectTarget ResolveTarget(string url, WireProtocol protocol)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
            throw new ArgumentException($"--url '{url}' is not an absolute URL (e.g. ws://127.0.0.1:8080/ws)");
        if (uri.Scheme == "wss")
            throw new ArgumentException("--url: wss:// (TLS) is not supported; point the tool at a plain ws:// loopback listener");
        if (uri.Scheme != "ws")
            throw new ArgumentException($"--url '{url}': the scheme must be ws://");
        string host = uri.IdnHost.Trim('[', ']');
        IPAddress address;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) address = IPAddress.Loopback;
        else if (!IPAddress.TryParse(host, out address!) || !IsLoopback(address))
            throw new ArgumentException($"--url '{url}': refusing a non-loopback host '{uri.Host}'. Targets must be 127.x.x.x, localhost or [::1]");
        int port = uri.IsDefaultPort ? 80 : uri.Port;
        return new ConnectTarget(uri, new IPEndPoint(address, port), protocol);
    }

    private static bool IsLoopback(IPAddress a) =>
        a.AddressFamily == AddressFamily.InterNetwork ? a.GetAddressBytes()[0] == 127 : a.Equals(IPAddress.IPv6Loopback);

    private static string DefaultResultsDirectory()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln")))
                    return Path.Combine(dir.FullName, "perf", "results");
        }
        return Path.Combine(Directory.GetCurrentDirectory(), "perf", "results");
    }
}

/// <summary>A duration option whose default is shown as 10s rather than 00:00:10.</summary>
public sealed record TimeOption(Option<TimeSpan?> Option, TimeSpan Default)
{
    public TimeSpan Get(ParseResult parse) => parse.GetValue(Option) ?? Default;
}

public static class Options
{
    public static TimeOption Time(string name, TimeSpan defaultValue, string description, bool recursive = false) => new(new Option<TimeSpan?>(name)
    {
        Description = $"{description} (e.g. 10s, 500ms, 2m) [default: {Durations.Format(defaultValue)}]",
        HelpName = "time",
        Recursive = recursive,
        CustomParser = result =>
        {
            string? text = result.Tokens.Count > 0 ? result.Tokens[0].Value : null;
            if (Durations.TryParse(text, out var value)) return value;
            result.AddError($"{name}: '{text}' is not a duration (e.g. 10s, 500ms, 2m)");
            return null;
        },
    }, defaultValue);

    public static Option<int> Int(string name, int defaultValue, string description, int min = 1, params string[] aliases)
    {
        var option = new Option<int>(name, aliases)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
        };
        option.Validators.Add(result =>
        {
            int value = result.GetValueOrDefault<int>();
            if (value < min) result.AddError($"{name} must be at least {min} (got {value})");
        });
        return option;
    }
}
