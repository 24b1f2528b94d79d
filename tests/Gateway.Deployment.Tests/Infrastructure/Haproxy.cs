using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.Deployment.Tests.Infrastructure;

/// <summary>One server of the backend as HAProxy's stats CSV shows it.</summary>
public sealed record BackendServer(string Name, string Status, string CheckStatus, int CurrentSessions);

/// <summary>
/// Debian's haproxy running docker/haproxy.cfg itself (not a copy), in the foreground (-db), on 127.0.0.1: the
/// addresses, ports and check timings are the environment variables the file reads. Its stats CSV says what the
/// balancer thinks of each node. Fails (never skips) when haproxy is not installed.
/// </summary>
public sealed class Haproxy : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private Haproxy(Process process, int port, int statsPort)
    {
        _process = process;
        Port = port;
        StatsPort = statsPort;
    }

    public int Port { get; }
    public int StatsPort { get; }
    public Uri WebSocketUri(string path = "/ws") => new($"ws://127.0.0.1:{Port}{path}");
    public string Output { get { lock (_output) return _output.ToString(); } }

    public static string Executable()
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/local/sbin"]);
        foreach (var dir in dirs)
        {
            string candidate = Path.Combine(dir, "haproxy");
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException("haproxy is not installed: the load-balancer tests run Debian's haproxy with docker/haproxy.cfg. Run `make test-deps` (it installs the haproxy package) and run the tests again.");
    }

    /// <summary>docker/haproxy.cfg of this source tree.</summary>
    public static string ConfigPath()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException($"no Gateway.sln above {AppContext.BaseDirectory}");
        return Path.Combine(dir.FullName, "docker", "haproxy.cfg");
    }

    /// <summary>
    /// Starts haproxy in front of <paramref name="nodes"/> (host:port) and waits (bounded) until its stats page answers.
    /// The free ports are chosen just before start: another process could take one first, so a failed bind is retried
    /// on fresh ports a few times.
    /// </summary>
    public static async Task<Haproxy> StartAsync(string node1, string node2, string checkInterval, int fall, int rise)
    {
        string exe = Executable();
        for (int attempt = 1; ; attempt++)
        {
            int port = FreePort(), statsPort = FreePort();
            var psi = new ProcessStartInfo(exe)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
            };
            foreach (var arg in new[] { "-db", "-f", ConfigPath() }) psi.ArgumentList.Add(arg);
            psi.Environment["HAPROXY_BIND"] = $"127.0.0.1:{port}";
            psi.Environment["HAPROXY_STATS_BIND"] = $"127.0.0.1:{statsPort}";
            psi.Environment["GATEWAY_NODE1"] = node1;
            psi.Environment["GATEWAY_NODE2"] = node2;
            psi.Environment["HAPROXY_CHECK_INTER"] = checkInterval;
            psi.Environment["HAPROXY_CHECK_FALL"] = fall.ToString(CultureInfo.InvariantCulture);
            psi.Environment["HAPROXY_CHECK_RISE"] = rise.ToString(CultureInfo.InvariantCulture);
            // A test machine's descriptor limit is enough for a few connections; the file's default maxconn would
            // make haproxy ask for more descriptors than an unprivileged test runner may have.
            psi.Environment["HAPROXY_MAXCONN"] = "1000";
            var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
            var haproxy = new Haproxy(process, port, statsPort);
            process.OutputDataReceived += (_, e) => haproxy.Append(e.Data);
            process.ErrorDataReceived += (_, e) => haproxy.Append(e.Data);
            process.Start();
            Gateway.Tests.Shared.ChildProcessGuard.KillWithThisProcess(process);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                await haproxy.WaitStatsAsync(TimeSpan.FromSeconds(15));
                return haproxy;
            }
            catch (Exception) when (attempt < 3 && process.HasExited && haproxy.Output.Contains("cannot bind", StringComparison.OrdinalIgnoreCase))
            {
                await haproxy.DisposeAsync();
            }
            catch
            {
                await haproxy.DisposeAsync();
                throw;
            }
        }
    }

    private async Task WaitStatsAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        for (int i = 0; i < 1000; i++)
        {
            if (_process.HasExited) throw new InvalidOperationException($"haproxy exited with {_process.ExitCode}:\n{Output}");
            try
            {
                await ServersAsync();
                return;
            }
            catch (HttpRequestException) { }
            if (DateTime.UtcNow >= deadline) break;
            await Task.Delay(25); // haproxy has no readiness signal but its port: the interval of a bounded poll
        }
        throw new TimeoutException($"haproxy's stats page did not answer within {timeout.TotalSeconds:0} s:\n{Output}");
    }

    /// <summary>The backend's servers, from the stats CSV (status UP/DOWN/…, the last check's status, open sessions).</summary>
    public async Task<IReadOnlyList<BackendServer>> ServersAsync()
    {
        string csv = await Http.GetStringAsync($"http://127.0.0.1:{StatsPort}/stats;csv");
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].TrimStart('#', ' ').Split(',');
        int px = Array.IndexOf(header, "pxname"), sv = Array.IndexOf(header, "svname"), status = Array.IndexOf(header, "status"),
            check = Array.IndexOf(header, "check_status"), scur = Array.IndexOf(header, "scur");
        var servers = new List<BackendServer>();
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            if (cells.Length < header.Length - 1 || cells[px] != "gateway_nodes" || cells[sv] is "BACKEND" or "FRONTEND") continue;
            servers.Add(new BackendServer(cells[sv], cells[status], cells[check],
                int.TryParse(cells[scur], CultureInfo.InvariantCulture, out int n) ? n : 0));
        }
        return servers;
    }

    /// <summary>Waits (bounded poll of the stats page: haproxy raises no event) until <paramref name="condition"/> holds.</summary>
    public async Task<IReadOnlyList<BackendServer>> WaitServersAsync(Func<IReadOnlyList<BackendServer>, bool> condition, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        IReadOnlyList<BackendServer> last = [];
        for (int i = 0; i < 10_000; i++)
        {
            last = await ServersAsync();
            if (condition(last)) return last;
            if (DateTime.UtcNow >= deadline) break;
            await Task.Delay(20);
        }
        throw new TimeoutException($"haproxy: not within {timeout.TotalSeconds:0.#} s: {what}; servers: {Describe(last)}\n{Output}");
    }

    public static string Describe(IEnumerable<BackendServer> servers) =>
        string.Join(", ", servers.Select(s => $"{s.Name} {s.Status} (check {s.CheckStatus}, {s.CurrentSessions} sessions)"));

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try { return ((IPEndPoint)listener.LocalEndpoint).Port; }
        finally { listener.Stop(); }
    }

    public async ValueTask DisposeAsync()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await _process.WaitForExitAsync(cts.Token); } catch (OperationCanceledException) { }
        _process.Dispose();
    }
}
