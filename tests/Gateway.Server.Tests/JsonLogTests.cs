using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Tests.Shared;

namespace Gateway.Server.Tests;

/// <summary>
/// Gateway:Logging:Format=Json: the real host writes one CLEF object per line (Serilog.Formatting.Compact), every line
/// about a connection carries its cluster-wide connection id as a property, and every line the node's id.
/// </summary>
public sealed class JsonLogTests : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gateway-json-log-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static List<JsonObject> Lines(HostProcess host) =>
        host.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(line =>
        {
            try { return JsonNode.Parse(line) as JsonObject ?? throw new JsonException("not an object"); }
            catch (JsonException ex) { throw new Xunit.Sdk.XunitException($"not a CLEF line ({ex.Message}): {line}\n{host.Describe()}"); }
        }).ToList();

    [Fact]
    public async Task The_host_writes_CLEF_lines_with_the_connection_id_and_the_node_id()
    {
        string plugins = HostProcess.SamplePluginsFolder(_root);
        using var host = HostProcess.Start(
            "--Gateway:Listen:0=127.0.0.1:0",
            "--Gateway:Plugins:Path=" + plugins,
            "--Gateway:Logging:Format=Json",
            "--Samples:Ticker:Enabled=false",
            "--Serilog:MinimumLevel:Default=Debug"); // the upgrade and the sample's join lines are Debug
        int port = await host.BoundPortAsync(StartTimeout);

        await using var client = await RpcClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"));
        var who = await client.ResultAsync("chat/whoami");
        string connectionId = who.Str("connectionId")!, nodeId = who.Str("nodeId")!;
        await client.ResultAsync("chat/join", new { room = "lobby" });   // a plugin's line: "[{ConnectionId}] joined {Topic}"
        Assert.True((await client.CallAsync("echo/crash")).IsError());    // the server's line: "[{ConnectionId}] handler for {Path} failed"
        // An HTTP request answered with an error instead of an upgrade: an Information line about that connection.
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync("127.0.0.1", port);
            await tcp.GetStream().WriteAsync(Encoding.ASCII.GetBytes("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"));
            var buffer = new byte[1024];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            Assert.True(await tcp.GetStream().ReadAsync(buffer, cts.Token) > 0);
        }

        Assert.True(await Waits.WaitUntilAsync(() =>
            host.StdOut.Contains("handler for", StringComparison.Ordinal) && host.StdOut.Contains("joined", StringComparison.Ordinal)
            && host.StdOut.Contains("handshake rejected", StringComparison.Ordinal), StartTimeout), host.Describe());

        var lines = Lines(host); // every line parses
        Assert.All(lines, l =>
        {
            Assert.True(DateTimeOffset.TryParse(l.Str("@t"), System.Globalization.CultureInfo.InvariantCulture, out _), "@t: " + l.ToJsonString());
            Assert.False(string.IsNullOrEmpty(l.Str("@m")), "@m: " + l.ToJsonString());
        });
        // Found by their properties, as a log query would.
        var upgraded = lines.Single(l => l["EventId"].Long("Id") == 6 && l.Str("ConnectionId") == connectionId);
        var joined = lines.Single(l => l.Str("SourceContext") == "Gateway.Samples.ChatService" && l.Str("Topic") == "room:lobby");
        var failed = lines.Single(l => l.Str("Path") == "echo/crash");
        var rejected = lines.Single(l => l["EventId"].Long("Id") == 5);
        Assert.Equal(404, rejected.Long("Status"));
        // The server's lines and the plugin's carry the same value: the id the client was told.
        Assert.Equal(connectionId, joined.Str("ConnectionId"));
        Assert.Equal(connectionId, failed.Str("ConnectionId"));
        Assert.Equal("Error", failed.Str("@l"));
        Assert.False(string.IsNullOrEmpty(failed.Str("@x")), "the exception is its own member");
        Assert.StartsWith(nodeId + ".", rejected.Str("ConnectionId"));
        Assert.NotEqual(connectionId, rejected.Str("ConnectionId"));
        Assert.Equal("Gateway.Rpc", failed.Str("SourceContext"));
        // Every line from the node's start on names the node.
        int first = lines.IndexOf(lines.First(l => l["EventId"].Long("Id") == 1)); // Listening on …
        Assert.All(lines.Skip(first), l => Assert.Equal(nodeId, l.Str("NodeId")));
        Assert.Equal("Debug", upgraded.Str("@l"));
    }

    [Fact]
    public async Task The_text_format_stays_the_default_with_the_cluster_wide_connection_id()
    {
        using var host = HostProcess.Start("--Gateway:Listen:0=127.0.0.1:0");
        int port = await host.BoundPortAsync(StartTimeout);
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync("127.0.0.1", port);
            await tcp.GetStream().WriteAsync(Encoding.ASCII.GetBytes("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"));
            var buffer = new byte[1024];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            Assert.True(await tcp.GetStream().ReadAsync(buffer, cts.Token) > 0);
        }
        Assert.True(await Waits.WaitUntilAsync(() => host.StdOut.Contains("handshake rejected", StringComparison.Ordinal), StartTimeout), host.Describe());
        var line = host.StdOut.Split('\n').Single(l => l.Contains("handshake rejected", StringComparison.Ordinal));
        Assert.Matches(@"^\[\d\d:\d\d:\d\d INF\] Gateway\.\S+: \[[a-z2-7]{10}\.\d+\] handshake rejected with 404", line.Trim());
        Assert.DoesNotContain(host.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.TrimStart().StartsWith('{'));
    }

    [Fact]
    public async Task A_wrong_format_exits_2_naming_the_key_and_the_values()
    {
        using var host = HostProcess.Start("--Gateway:Listen:0=127.0.0.1:0", "--Gateway:Logging:Format=Xml");
        Assert.True(await host.WaitForExitAsync(StartTimeout), host.Describe());
        Assert.True(host.ExitCode == 2, host.Describe());
        Assert.Contains("Gateway:Logging:Format must be one of Text, Json (got 'Xml')", host.StdErr);
    }
}
