using System.Diagnostics;
using System.Text;

namespace Gateway.Server.Tests;

/// <summary>
/// The real Gateway.Host executable as a child process (`dotnet Gateway.Host.dll ARGS`), run from an empty temp
/// directory, with its stdout/stderr captured. The test project has a ProjectReference to the host (without
/// referencing its assembly), so building the tests builds it in the same configuration.
/// </summary>
internal sealed class HostProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly string _workDir;

    private HostProcess(Process process, string workDir)
    {
        _process = process;
        _workDir = workDir;
    }

    public int Id => _process.Id;
    public string StdOut { get { lock (_stdout) return _stdout.ToString(); } }
    public string StdErr { get { lock (_stderr) return _stderr.ToString(); } }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>src/Gateway.Host/bin/&lt;configuration of this test assembly&gt;/net10.0/Gateway.Host.dll.</summary>
    public static string HostDllPath()
    {
        string testDir = AppContext.BaseDirectory;
        // The test assembly lives in .../bin/<Configuration>/<tfm>/: take the configuration from that path.
        var parts = testDir.TrimEnd(Path.DirectorySeparatorChar).Split(Path.DirectorySeparatorChar);
        int bin = Array.LastIndexOf(parts, "bin");
        if (bin < 0 || bin + 2 >= parts.Length) throw new InvalidOperationException($"cannot find bin/<Configuration>/<tfm> in the test path {testDir}");
        string configuration = parts[bin + 1];
        string tfm = parts[bin + 2];

        var dir = new DirectoryInfo(testDir);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException($"no Gateway.sln above {testDir}");

        string dll = Path.Combine(dir.FullName, "src", "Gateway.Host", "bin", configuration, tfm, "Gateway.Host.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"Gateway.Host is not built at {dll}; the test project's ProjectReference to it should have built it", dll);
        return dll;
    }

    public static HostProcess Start(params string[] args) => Start(new Dictionary<string, string>(), null, args);

    /// <summary>As <see cref="Start(string[])"/>, with extra environment variables (e.g. DOTNET_GCHeapHardLimit).</summary>
    public static HostProcess Start(IReadOnlyDictionary<string, string> environment, params string[] args) => Start(environment, null, args);

    /// <summary>As <see cref="Start(IReadOnlyDictionary{string, string}, int?, string[])"/> with no extra environment.</summary>
    public static HostProcess Start(int? descriptorLimit, params string[] args) => Start(new Dictionary<string, string>(), descriptorLimit, args);

    /// <summary>
    /// Starts the host with RLIMIT_NOFILE (soft and hard) set to <paramref name="descriptorLimit"/> when given, through
    /// <c>sh -c 'ulimit -n N; exec …'</c>: the limit an operator's <c>ulimit -n</c> gives it, which the runtime cannot raise.
    /// </summary>
    public static HostProcess Start(IReadOnlyDictionary<string, string> environment, int? descriptorLimit, params string[] args) =>
        StartCore(environment, descriptorLimit, null, args);

    /// <summary>
    /// As <see cref="Start(IReadOnlyDictionary{string, string}, string[])"/>, with <paramref name="appSettingsJson"/> as
    /// appsettings.json in its working directory: the file the host reads first (a container's mounted /app/appsettings.json).
    /// </summary>
    public static HostProcess StartWithAppSettings(string appSettingsJson, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        StartCore(environment, null, appSettingsJson, args);

    private static HostProcess StartCore(IReadOnlyDictionary<string, string> environment, int? descriptorLimit, string? appSettingsJson, string[] args)
    {
        string workDir = Path.Combine(Path.GetTempPath(), "gateway-host-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(workDir);
        if (appSettingsJson is not null) File.WriteAllText(Path.Combine(workDir, "appsettings.json"), appSettingsJson);
        // The dotnet that runs the tests (dotnet test sets DOTNET_HOST_PATH), else the one on PATH.
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p && File.Exists(p) ? p : "dotnet";
        var psi = new ProcessStartInfo(descriptorLimit is null ? dotnet : "/bin/sh")
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (descriptorLimit is { } limit)
        {
            // exec: the process we track (and kill) is the host itself, not a shell around it.
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add($"ulimit -n {limit} && exec \"$0\" \"$@\"");
            psi.ArgumentList.Add(dotnet);
        }
        psi.ArgumentList.Add(HostDllPath());
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Only the command line configures the gateway: drop any Gateway__* variables the test runner has.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("Gateway__", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in environment) psi.Environment[key] = value;

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var host = new HostProcess(process, workDir);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (host._stdout) host._stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (host._stderr) host._stderr.AppendLine(e.Data); };
        process.Start();
        Gateway.Tests.Shared.ChildProcessGuard.KillWithThisProcess(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>
    /// The port the host bound for "127.0.0.1:0" (start it with --Gateway:Listen:0=127.0.0.1:0), read from its
    /// "Listening on" log line: a port picked by the OS at bind time, so no other process can hold it (bounded wait).
    /// </summary>
    public async Task<int> BoundPortAsync(TimeSpan timeout)
    {
        // Text: Listening on 127.0.0.1:N; Json (Gateway:Logging:Format): "@m":"Listening on \"127.0.0.1:N\"".
        var listening = new System.Text.RegularExpressions.Regex(@"Listening on (?:\\"")?127\.0\.0\.1:(\d+)");
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !HasExited)
        {
            var m = listening.Match(StdOut);
            if (m.Success) return int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            await Task.Delay(10); // the log has no event to await: a bounded poll of the captured output
        }
        throw new TimeoutException("the host never logged its listening port\n" + Describe());
    }

    /// <summary>Waits for the process to exit (and its output to be drained); false on timeout.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>SIGTERM, as a container runtime or systemd stops the gateway (.NET has no API to send a signal).</summary>
    public async Task SendSigTermAsync()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await kill.WaitForExitAsync(cts.Token);
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -TERM {Id} failed with {kill.ExitCode}");
    }

    /// <summary>
    /// A plugins folder under <paramref name="root"/> holding a copy of the sample plugin's build output
    /// (src/Gateway.Samples/bin/&lt;Configuration&gt;/&lt;tfm&gt;/, built with these tests through a ProjectReference that does
    /// not reference its assembly).
    /// </summary>
    public static string SamplePluginsFolder(string root)
    {
        string hostDll = HostDllPath(); // src/Gateway.Host/bin/<Configuration>/<tfm>/Gateway.Host.dll
        var output = new DirectoryInfo(Path.GetDirectoryName(hostDll)!);
        string tfm = output.Name, configuration = output.Parent!.Name;
        string src = output.Parent!.Parent!.Parent!.Parent!.FullName;
        string build = Path.Combine(src, "Gateway.Samples", "bin", configuration, tfm);
        if (!File.Exists(Path.Combine(build, "Gateway.Samples.dll"))) throw new FileNotFoundException($"the sample plugin is not built at {build}");
        string plugins = Path.Combine(root, "plugins");
        Copy(build, Path.Combine(plugins, "Gateway.Samples"));
        return plugins;
    }

    private static void Copy(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        foreach (var dir in Directory.GetDirectories(source)) Copy(dir, Path.Combine(target, Path.GetFileName(dir)));
    }

    public string Describe() => $"exit: {(HasExited ? ExitCode.ToString() : "still running")}\n--- stdout ---\n{StdOut}\n--- stderr ---\n{StdErr}";

    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.Dispose();
        try { Directory.Delete(_workDir, recursive: true); } catch (IOException) { }
    }
}
