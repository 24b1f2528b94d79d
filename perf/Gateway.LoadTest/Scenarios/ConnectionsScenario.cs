using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Gateway.LoadTest.Core;
using Gateway.LoadTest.Net;
using Gateway.LoadTest.Reporting;

namespace Gateway.LoadTest.Scenarios;

/// <summary>
/// Opens N idle WebSocket connections (each step = one connect + upgrade), holds them, and measures the
/// server's memory per connection: RSS before any connection vs. RSS at the end of the hold. Above
/// --per-source connections the client binds its sockets to 127.0.0.2, 127.0.0.3, ... so that one
/// source address never runs out of ephemeral ports.
/// </summary>
public sealed class ConnectionsScenario(int count, TimeSpan hold, TimeSpan settle, int concurrency, int perSource, RunSettings settings) : Scenario
{
    private static readonly TimeSpan KeepAliveEvery = TimeSpan.FromSeconds(10);
    private WsConnection?[] _connections = [];
    private IPAddress?[] _sources = [];
    private int _next = -1;
    private int _opened;
    private int _openAtEnd;
    private readonly IReadOnlyList<LoadSimulation> _load =
        [new Iterations(Math.Min(concurrency, count), count, TimeSpan.FromSeconds(Math.Max(120, count / 100)))];

    public override string Name => "connections";
    public override string StepUnit => "connects";
    public override IReadOnlyList<LoadSimulation> Load => _load;
    public override int MaxCopies => Math.Min(concurrency, count);

    public override IReadOnlyList<(string Name, string Value)> Parameters =>
    [
        ("count", count.ToString(CultureInfo.InvariantCulture)),
        ("hold", Durations.Format(hold)),
        ("settle", Durations.Format(settle)),
        ("concurrency", concurrency.ToString(CultureInfo.InvariantCulture)),
        ("per-source", perSource.ToString(CultureInfo.InvariantCulture)),
        ("source addresses", _sources.Length == 0 || _sources[0] is null ? "kernel's choice" : $"{_sources[0]} .. {_sources[^1]}"),
    ];

    /// <summary>Checks the file descriptor limits and plans the source addresses; throws with advice when N cannot work.</summary>
    public static IPAddress?[] Plan(int count, int perSource, IPEndPoint target, int? serverPid, Action<string> log)
    {
        CheckFileDescriptors(count, serverPid, log);

        int ports = ProcessProbe.EphemeralPortCount();
        int usable = Math.Max(1000, ports - 500);
        if (perSource > usable)
        {
            log($"--per-source {perSource} is above the {ports} ephemeral ports (net.ipv4.ip_local_port_range): using {usable}");
            perSource = usable;
        }
        if (count <= perSource) return [null];
        if (target.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException($"--count {count} needs more than one source address ({perSource} per address), which only IPv4 loopback (127.x.x.x) offers: use --url ws://127.0.0.1:PORT/...");
        int sources = (count + perSource - 1) / perSource;
        if (sources > 250) throw new ArgumentException($"--count {count} would need {sources} source addresses; at most 250 (127.0.0.1 .. 127.0.0.250)");
        log($"{count} connections: spreading over {sources} source addresses 127.0.0.1 .. 127.0.0.{sources} (about {(count + sources - 1) / sources} each)");
        return Enumerable.Range(1, sources).Select(k => (IPAddress?)new IPAddress([127, 0, 0, (byte)k])).ToArray();
    }

    /// <summary>Fails with advice when this process may not open <paramref name="count"/> more sockets; warns about the server's limit.</summary>
    public static void CheckFileDescriptors(int count, int? serverPid, Action<string> log)
    {
        const int reserve = 64;
        if (ProcessProbe.OpenFilesLimit() is { } limit)
        {
            long inUse = ProcessProbe.OpenFileCount() ?? 32;
            if (count + inUse + reserve > limit.Soft)
                throw new ArgumentException(
                    $"{count} connections need about {count + inUse + reserve} file descriptors but this process may open {limit.Soft} " +
                    $"(soft limit; hard limit {(limit.Hard == long.MaxValue ? "unlimited" : limit.Hard)}). " +
                    $"Raise it in the shell that starts the tool, e.g. `ulimit -n {RoundUp(count + 1000)}` " +
                    "(above the hard limit: as root, or via /etc/security/limits.conf / systemd LimitNOFILE), and the server's as well.");
        }
        if (serverPid is { } pid && ProcessProbe.OpenFilesLimit(pid.ToString(CultureInfo.InvariantCulture)) is { } server && count + 100 > server.Soft)
            log($"warning: the server (pid {pid}) may open only {server.Soft} files: it will refuse connections beyond that. Start it after `ulimit -n {RoundUp(count + 1000)}`.");
    }

    private static long RoundUp(long n) => (n + 9999) / 10000 * 10000;

    public override async Task BeforeBaselineAsync(RunContext context)
    {
        if (settle <= TimeSpan.Zero || settings.ServerPid is null) return;
        context.Log($"letting the server settle for {Durations.Format(settle)} before sampling its baseline RSS");
        try { await Task.Delay(settle, context.Cancellation); } catch (OperationCanceledException) { }
    }

    public override Task InitAsync(RunContext context)
    {
        _sources = Plan(count, perSource, settings.Target.EndPoint, settings.ServerPid, context.Log);
        if (_sources.Length > 1) perSource = (count + _sources.Length - 1) / _sources.Length;
        _connections = new WsConnection?[count];
        context.Log($"opening {count} idle connection(s) to {settings.Target.Url}, {MaxCopies} at a time");
        return Task.CompletedTask;
    }

    public override async ValueTask<StepResult> StepAsync(VirtualUser user)
    {
        int i = Interlocked.Increment(ref _next);
        if (i >= count) return StepResult.Ok;
        var source = _sources[Math.Min(i / perSource, _sources.Length - 1)];
        try
        {
            var connection = await Connector.ConnectOneAsync(settings.Target, source, 512, CancellationToken.None);
            connection.Start();
            _connections[i] = connection;
            Interlocked.Increment(ref _opened);
            return StepResult.Ok;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return StepResult.Fail(Connector.Describe(ex));
        }
    }

    public override async Task AfterLoadAsync(RunContext context)
    {
        context.Log($"{Volatile.Read(ref _opened)} connection(s) open; holding them for {Durations.Format(hold)}");
        var until = DateTime.UtcNow + hold;
        var nextKeepAlive = DateTime.UtcNow + KeepAliveEvery;
        while (DateTime.UtcNow < until && !context.Cancellation.IsCancellationRequested)
        {
            var wait = until - DateTime.UtcNow;
            if (wait > TimeSpan.FromMilliseconds(250)) wait = TimeSpan.FromMilliseconds(250);
            try { await Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, context.Cancellation); } catch (OperationCanceledException) { break; }
            if (DateTime.UtcNow >= nextKeepAlive)
            {
                // Idle is fine for the gateway (it pings us, we answer), but SignalR wants client traffic within 30 s.
                foreach (var c in _connections) c?.SendKeepAlive();
                nextKeepAlive = DateTime.UtcNow + KeepAliveEvery;
            }
        }
        _openAtEnd = _connections.Count(c => c is { IsClosed: false });
    }

    public override (long In, long Out) Bytes()
    {
        long i = 0, o = 0;
        foreach (var c in _connections)
        {
            if (c is null) continue;
            i += Volatile.Read(ref c.BytesReceived);
            o += Volatile.Read(ref c.BytesSent);
        }
        return (i, o);
    }

    public override (long In, long Out, int Connections) CompressionSaved() => SumCompression(_connections);

    public override IEnumerable<(string Name, string Value)> ProgressExtras()
    {
        yield return ("connections", $"{Volatile.Read(ref _opened):N0}/{count:N0} opened");
        if (settings.ServerPid is { } pid && ProcessProbe.ReadRssKb(pid) is { } rss) yield return ("server RSS", $"{rss / 1024.0:N1} MiB");
    }

    public override void Complete(ScenarioResult result, RunContext context)
    {
        result.Extra.Add(("connectionsOpen", "connections open at the end of the hold", _openAtEnd, _openAtEnd.ToString("N0", CultureInfo.InvariantCulture)));
        result.Extra.Add(("sourceAddresses", "source addresses", _sources.Length, _sources.Length.ToString(CultureInfo.InvariantCulture)));
        if (result.ServerRssBeforeKb is { } before && result.ServerRssAfterKb is { } after && _openAtEnd > 0)
        {
            double perConnection = (after - before) * 1024.0 / _openAtEnd;
            result.Extra.Add(("serverRssPerConnectionBytes", "server RSS growth per connection", Math.Round(perConnection), $"{perConnection:N0} B ({perConnection / 1024:N1} KiB)"));
            if (after < before)
                result.Notes.Add("the server's RSS fell while the connections opened: its baseline was not steady (garbage from an earlier run?). Measure against a freshly started server, or with more connections.");
            else if ((after - before) * 1024.0 < 4L * 1024 * 1024)
                result.Notes.Add("the RSS growth is under 4 MiB: per-connection figures are noisy at this count; use a few thousand connections or more.");
        }
        else if (settings.ServerPid is null)
        {
            result.Notes.Add("no --server-pid: the server's memory per connection was not measured");
        }
        if (_openAtEnd < Volatile.Read(ref _opened))
        {
            result.Notes.Add($"{Volatile.Read(ref _opened) - _openAtEnd} connection(s) closed during the hold");
            foreach (var reason in _connections.Where(c => c is { IsClosed: true }).Select(c => c!.CloseReason).Distinct().Take(3))
                result.Notes.Add($"closed during the hold: {reason}");
        }
    }

    public override async Task CleanupAsync(RunContext context)
    {
        var open = _connections.Where(c => c is not null).Select(c => c!).ToArray();
        if (open.Length == 0) return;
        context.Log($"closing {open.Length} connection(s)");
        // Closing handshakes in batches, so that tens of thousands do not all wait at once.
        foreach (var batch in open.Chunk(2000))
            await Task.WhenAll(batch.Select(c => c.CloseAsync(TimeSpan.FromSeconds(2))));
    }
}
