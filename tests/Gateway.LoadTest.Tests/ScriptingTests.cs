using System.Text.Json;
using Gateway.LoadTest.Cli;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.LoadTest.Tests;

/// <summary>
/// The scripting layer's CLI modes (<c>call</c>, <c>chat</c>) run in-process against a real gateway with the sample
/// plugin, with tiny bounded settings: the JSON report must count successes and no failures, in both wire formats.
/// </summary>
public sealed class ScriptingTests : IAsyncLifetime
{
    private static readonly TimeSpan RunBound = TimeSpan.FromSeconds(60);
    private RpcGateway _gateway = null!;
    private string _results = null!;

    public async Task InitializeAsync()
    {
        // As appsettings.json has it: the chat script $subscribes to its room's topic besides chat/join.
        _gateway = await RpcGateway.StartAsync([Plugins.Samples], new Dictionary<string, string?> { ["Gateway:Topics:ClientSubscribe:0"] = "room:*" });
        _results = Path.Combine(Path.GetTempPath(), "gateway-loadtest-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_results);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        try { Directory.Delete(_results, recursive: true); } catch (IOException) { }
    }

    /// <summary>Runs the tool's Main and returns its JSON report (PREFIX-SCENARIO.json).</summary>
    private async Task<JsonElement> RunAsync(string scenario, string format, params string[] args)
    {
        string[] all = [scenario, "--url", _gateway.Uri.ToString(), "--format", format, "--results-dir", _results, "--out", "run",
            "--json", "--plain", "--timeout", "5s", "--duration", "1s", "--warmup", "200ms", .. args];
        // The tool's console output goes into the failure message (its own stdout/stderr, restored after).
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

    [Theory]
    [InlineData("json")]
    [InlineData("msgpack")]
    public async Task Call_CountsEverySuccessfulRequest(string format)
    {
        var report = await RunAsync("call", format, "--path", "echo/typed", "--input", """{"text":"hi"}""", "--connections", "1", "--load", "keep:1");
        long ok = report.GetProperty("ok").GetInt64();
        Assert.True(ok > 0, "no successful request");
        Assert.Equal(0, report.GetProperty("failed").GetInt64());
        Assert.Equal(ok, report.GetProperty("requests").GetInt64());
        Assert.Equal(format == "msgpack" ? "gateway-msgpack" : "gateway", report.GetProperty("protocol").GetString());
        // One user, one request at a time: bytes out per request is the request's size (±1 at the window's edges), which
        // tells the encodings apart: {"id":N,"path":"echo/typed","input":{"text":"hi"}} is 45+ bytes, its MessagePack map at most 40.
        double perRequest = (double)report.GetProperty("bytesOut").GetInt64() / ok;
        if (format == "msgpack") Assert.InRange(perRequest, 30, 41);
        else Assert.InRange(perRequest, 44, 60);
    }

    [Theory]
    [InlineData("json")]
    [InlineData("msgpack")]
    public async Task Chat_CountsMessagesThatCameBackThroughTheTopic(string format)
    {
        var report = await RunAsync("chat", format, "--users", "2", "--rooms", "1");
        Assert.True(report.GetProperty("ok").GetInt64() > 0, "no message made the round trip");
        Assert.Equal(0, report.GetProperty("failed").GetInt64());
    }
}
