using System.Diagnostics;
using System.Text.Json;
using Gateway.Server.Options;
using Gateway.Tests.Shared;

namespace Gateway.Conformance.Tests;

/// <summary>
/// Interop with Node's ws (perMessageDeflate on): tests/interop/deflate/echo-client.js sends text and binary messages,
/// fragmented and repeated, and checks every echo. Needs node on the PATH; the script's one dependency is installed
/// from its lock file (npm ci) the first time.
/// </summary>
public class NodeWsDeflateTests
{
    private static readonly SemaphoreSlim InstallLock = new(1, 1);

    public static TheoryData<string, string, Action<GatewayOptions>?, string> Cases() => new()
    {
        { "ws defaults", "{}", null, "client_no_context_takeover" },
        { "every message compressed", "{\"threshold\":0}", null, "server_no_context_takeover" },
        { "small windows asked by the client", "{\"threshold\":0,\"serverMaxWindowBits\":10,\"clientMaxWindowBits\":11}", null, "server_max_window_bits=10" },
        { "context takeover both ways", "{\"threshold\":0}", o => { o.Compression.ServerContextTakeover = true; o.Compression.ClientContextTakeover = true; }, "permessage-deflate" },
        { "client asks for no context takeover", "{\"threshold\":0,\"serverNoContextTakeover\":true,\"clientNoContextTakeover\":true}", o => o.Compression.ServerContextTakeover = true, "server_no_context_takeover" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Node_ws_round_trips_compressed_messages(string name, string options, Action<GatewayOptions>? configure, string expectedInExtension)
    {
        _ = name;
        string dir = await EnsureInstalledAsync();
        await using var gw = await TestGateway.StartAsync(configure);
        var (exit, output, errors) = await RunAsync("node", ["echo-client.js", gw.WebSocketUri().ToString(), options], dir, TimeSpan.FromSeconds(40));
        Assert.True(exit == 0, $"node exited {exit}: {output} {errors}");
        using var result = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        Assert.True(result.RootElement.GetProperty("ok").GetBoolean(), output);
        Assert.Equal(15, result.RootElement.GetProperty("messages").GetInt32());
        Assert.Contains(expectedInExtension, result.RootElement.GetProperty("extensions").GetString());

        var c = gw.Server.Metrics.Compression!;
        Assert.True(c.MessagesInflated > 0, "node sent nothing compressed");
        Assert.True(c.MessagesCompressed > 0, "the server sent nothing compressed");
    }

    private static async Task<string> EnsureInstalledAsync()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "tests", "interop", "deflate", "package.json"))) dir = dir.Parent;
        Assert.True(dir is not null, "tests/interop/deflate not found above " + AppContext.BaseDirectory);
        string path = Path.Combine(dir!.FullName, "tests", "interop", "deflate");
        await InstallLock.WaitAsync();
        try
        {
            if (!File.Exists(Path.Combine(path, "node_modules", "ws", "package.json")))
            {
                var (exit, output, errors) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], path, TimeSpan.FromMinutes(3));
                Assert.True(exit == 0, $"npm ci failed ({exit}): {output} {errors}");
            }
        }
        finally { InstallLock.Release(); }
        return path;
    }

    private static async Task<(int Exit, string Output, string Errors)> RunAsync(string file, string[] args, string directory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds} s");
        }
        return (process.ExitCode, await output, await errors);
    }
}
