using System.Text.Json;
using Gateway.LoadTest.Cli;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.LoadTest.Tests;

/// <summary>
/// A real gateway with the sample plugin (client subscriptions to <c>room:*</c> allowed, as appsettings.json has it) and
/// the load tool's Main run in-process against it, bounded in time, with its JSON report read back.
/// </summary>
public abstract class InProcessToolRun : IAsyncLifetime
{
    protected static readonly TimeSpan RunBound = TimeSpan.FromSeconds(60);
    private string _results = null!;

    protected RpcGateway Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Gateway = await RpcGateway.StartAsync([Plugins.Samples], new Dictionary<string, string?> { ["Gateway:Topics:ClientSubscribe:0"] = "room:*" });
        _results = Path.Combine(Path.GetTempPath(), "gateway-loadtest-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_results);
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        try { Directory.Delete(_results, recursive: true); } catch (IOException) { }
    }

    /// <summary>
    /// Runs <c>scenario --url … --results-dir … --out run --json --plain</c> and then <paramref name="args"/>; asserts
    /// a clean exit and returns the report (run-SCENARIO.json). The tool's console output goes into the failure message.
    /// </summary>
    protected async Task<JsonElement> RunToolAsync(string scenario, params string[] args)
    {
        string[] all = [scenario, "--url", Gateway.Uri.ToString(), "--results-dir", _results, "--out", "run", "--json", "--plain", .. args];
        var output = new StringWriter();
        var (stdout, stderr) = (Console.Out, Console.Error);
        Console.SetOut(output);
        Console.SetError(output);
        int exit;
        try { exit = await App.Main(all).WaitAsync(RunBound); }
        finally { Console.SetOut(stdout); Console.SetError(stderr); }
        string report = Path.Combine(_results, $"run-{scenario}.json");
        Assert.True(File.Exists(report) && exit == App.ExitOk, $"exit {exit}, report {(File.Exists(report) ? "written" : "missing")}:\n{output}");
        using var doc = JsonDocument.Parse(await File.ReadAllBytesAsync(report));
        return doc.RootElement.Clone();
    }
}
