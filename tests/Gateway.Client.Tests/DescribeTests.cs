using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Client;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Client.Tests;

/// <summary>$describe through the client, and `Gateway.Host describe` printing the same document without listening.</summary>
public sealed class DescribeTests
{
    [Fact]
    public async Task Describe_ListsTheTopicPatternsClientsMaySubscribeTo()
    {
        await using var gateway = await RpcGateway.StartAsync(ClientTestKit.Overrides(new Dictionary<string, string?> { ["Gateway:Topics:ClientSubscribe:1"] = "ticker" }));
        await using var client = await ClientTestKit.ConnectAsync(gateway.Uri);
        var document = await client.CallAsync<JsonObject>("$describe");
        Assert.Equal(["room:*", "ticker"], document["topics"]!.AsArray().Select(t => t!.GetValue<string>()));
    }

    [Fact]
    public async Task HostDescribe_PrintsWhatTheRunningGatewayAnswers()
    {
        // The host prints the whole API; a live gateway shows an anonymous caller only what it may call unless told otherwise.
        await using var gateway = await RpcGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:DescribeVisibleOnly"] = "false" });
        await using var client = await ClientTestKit.ConnectAsync(gateway.Uri);
        var live = await client.CallAsync<JsonObject>("$describe");

        string host = Path.Combine(PluginFolder.RepoRoot, "src", "Gateway.Host", "bin", PluginFolder.Configuration, PluginFolder.TargetFramework, "Gateway.Host.dll");
        Assert.True(File.Exists(host), host + " is not built");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(host)! };
        foreach (var a in new[] { host, "describe", "--plugins", gateway.Folder.PluginsPath }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { process.Kill(entireProcessTree: true); throw; }
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}");
        var printed = JsonNode.Parse(await stdout)!.AsObject();

        Assert.True(JsonNode.DeepEquals(live["procedures"], printed["procedures"]), "the procedures differ from the live $describe");
        // The host read its own appsettings.json (next to it): the sample configuration's patterns.
        Assert.Equal(["room:*", "ticker"], printed["topics"]!.AsArray().Select(t => t!.GetValue<string>()));
    }
}
