using System.Text.Json;
using Gateway.LoadTest.Cli;

namespace Gateway.LoadTest.Tests;

/// <summary>
/// The scripting layer's CLI modes (<c>call</c>, <c>chat</c>) run in-process against a real gateway with the sample
/// plugin, with tiny bounded settings: the JSON report must count successes and no failures, in both wire formats.
/// </summary>
public sealed class ScriptingTests : InProcessToolRun
{
    private Task<JsonElement> RunAsync(string scenario, string format, params string[] args) =>
        RunToolAsync(scenario, ["--format", format, "--timeout", "5s", "--duration", "1s", "--warmup", "200ms", .. args]);

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
