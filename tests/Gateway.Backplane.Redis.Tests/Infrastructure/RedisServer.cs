using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.Backplane.Redis.Tests.Infrastructure;

/// <summary>
/// A private redis-server child process on 127.0.0.1 and a free port, with no persistence (<c>--save "" --appendonly no</c>),
/// so a restart comes back empty. <see cref="StopAsync"/> kills it (as a crash would), <see cref="StartAsync"/> starts it
/// again on the same port, <see cref="RestartAsync"/> does both; dispose always kills it, whatever the test's outcome.
/// Fails (never skips) when redis-server is not on PATH.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    /// <summary>How long a start may take until the server answers PING (generous: the machine is shared and loaded).</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);

    private static readonly Lazy<string> LazyExecutable = new(FindExecutable);
    private static readonly object LiveGate = new();
    private static readonly HashSet<Process> Live = [];
    private readonly StringBuilder _output = new();
    private Process? _process;

    static RedisServer()
    {
        // Belt and braces: a test host that exits without disposing its fixtures still leaves no redis-server behind.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            Process[] live;
            lock (LiveGate) live = [.. Live];
            foreach (var p in live) Kill(p);
        };
    }

    private RedisServer(int port) => Port = port;

    public int Port { get; }

    /// <summary>The StackExchange.Redis configuration string for this server.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>What the server wrote to stdout/stderr, for failure messages.</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>The path of redis-server found on PATH.</summary>
    public static string Executable => LazyExecutable.Value;

    /// <summary>A server on a free port; started unless <paramref name="start"/> is false (then only the port is chosen).</summary>
    public static async Task<RedisServer> CreateAsync(bool start = true)
    {
        _ = Executable; // fail early, with the clear message, before choosing a port
        // The port is free when chosen but could be taken before redis-server binds it (other processes share the
        // machine): a few fresh ports, then give up.
        for (int attempt = 1; ; attempt++)
        {
            var server = new RedisServer(FreePort());
            if (!start) return server;
            try
            {
                await server.StartAsync();
                return server;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                await server.DisposeAsync();
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Starts redis-server on <see cref="Port"/> and waits (bounded) until it answers PING.</summary>
    public async Task StartAsync()
    {
        if (IsRunning) throw new InvalidOperationException("redis-server is running already");
        var psi = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
        };
        foreach (var arg in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning", "--daemonize", "no" })
            psi.ArgumentList.Add(arg);
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        if (!process.Start()) throw new InvalidOperationException("redis-server did not start");
        Gateway.Tests.Shared.ChildProcessGuard.KillWithThisProcess(process); // even if this test host is hard-killed
        lock (LiveGate) Live.Add(process);
        _process = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // redis-server has no readiness signal but its port: poll PING with a deadline.
        var deadline = DateTime.UtcNow + StartTimeout;
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"redis-server exited with code {process.ExitCode} while starting on port {Port}: {Output}");
            if (await PingAsync(TimeSpan.FromSeconds(1))) return;
            if (DateTime.UtcNow >= deadline) break;
            await Task.Delay(25); // the retry interval of a readiness poll, not a wait for an event
        }
        throw new TimeoutException($"redis-server on port {Port} did not answer PING within {StartTimeout.TotalSeconds:0} s: {Output}");
    }

    /// <summary>Kills the server (no SHUTDOWN: like a crash or a lost host) and waits until the process is gone.</summary>
    public async Task StopAsync()
    {
        var process = _process;
        _process = null;
        if (process is null) return;
        Kill(process);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { throw new TimeoutException($"redis-server (pid {process.Id}) did not exit within 10 s of SIGKILL"); }
        finally
        {
            lock (LiveGate) Live.Remove(process);
        }
        process.Dispose();
    }

    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync();
    }

    /// <summary>True when a fresh connection gets +PONG within <paramref name="timeout"/>.</summary>
    public async Task<bool> PingAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port, cts.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), cts.Token);
            var buffer = new byte[64];
            int n = 0;
            for (int reads = 0; reads < 16 && n < 7; reads++)
            {
                int r = await stream.ReadAsync(buffer.AsMemory(n), cts.Token);
                if (r == 0) break;
                n += r;
            }
            return Encoding.ASCII.GetString(buffer, 0, n).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(); }
        catch (TimeoutException) { }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try { return ((IPEndPoint)listener.LocalEndpoint).Port; }
        finally { listener.Stop(); }
    }

    private static string FindExecutable()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "redis-server");
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException(
            "redis-server is not on PATH: the Redis backplane tests start their own redis-server. Run `make test-deps` (it installs Debian's redis-server package) and run the tests again.");
    }
}

/// <summary>One redis-server shared by the tests of a class; each test isolates itself with its own ChannelPrefix.</summary>
public sealed class RedisServerFixture : IAsyncLifetime
{
    private RedisServer? _server;
    public RedisServer Server => _server ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _server = await RedisServer.CreateAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}
