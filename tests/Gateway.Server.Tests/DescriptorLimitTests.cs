using Gateway.Tests.Shared;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using static Gateway.Server.Tests.TestHelpers;

namespace Gateway.Server.Tests;

/// <summary>
/// The real host under a small RLIMIT_NOFILE (<c>ulimit -n</c>), flooded with more silent sockets than it has
/// descriptors, while one established client keeps calling echo/echo: the process must live, the neighbour's
/// calls must keep answering, the condition must be counted, and new connections must be accepted once the flood ends.
/// </summary>
public sealed class DescriptorLimitTests : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private const int Flood = 400;
    private const int NeighbourCalls = 20;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gateway-host-fd-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [Fact]
    public async Task MaxConnections_above_the_descriptor_limit_pauses_accepting_before_descriptors_run_out_and_the_host_survives_a_flood()
    {
        // MaxConnections far above what 256 descriptors allow: the descriptors, not the setting, must stop accepting.
        using var host = HostProcess.Start(256,
            "--Gateway:Listen:0=127.0.0.1:0",
            "--Gateway:Plugins:Path=" + HostProcess.SamplePluginsFolder(_root),
            "--Gateway:Limits:MaxConnections=1000");
        int port = await host.BoundPortAsync(StartTimeout);
        var warning = Regex.Match(host.StdOut, @"Limits:MaxConnections 1000 is more than the descriptor limit 256 allows: accepting pauses at (\d+) open connections");
        Assert.True(warning.Success, host.Describe());
        using var neighbour = await FloodWhileNeighbourCallsAsync(port, host);
        string metrics = await GetMetricsAsync(port);
        Assert.True(Counter(metrics, "gateway_accept_paused_total") > 0, metrics);
        Assert.Equal(0, Counter(metrics, "gateway_accept_errors_total{reason=\"too_many_open_files\"}"));
        using (var fresh = await ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), o => o.AddSubProtocol("gateway.v1.json")))
            await EchoAsync(fresh, 100, host);
        await EchoAsync(neighbour, 101, host);
        Assert.DoesNotContain("Out of memory", host.StdOut + host.StdErr);
        neighbour.Abort();
    }

    [Fact]
    public async Task Unset_MaxConnections_is_derived_from_the_descriptor_limit_and_accepting_pauses_there_instead_of_running_out()
    {
        const int Descriptors = 512;
        using var host = HostProcess.Start(Descriptors,
            "--Gateway:Listen:0=127.0.0.1:0",
            "--Gateway:Plugins:Path=" + HostProcess.SamplePluginsFolder(_root));
        int port = await host.BoundPortAsync(StartTimeout);
        var stated = Regex.Match(host.StdOut, @"Connection limit: (\d+) \(from the descriptor limit: (\d+) - (\d+) open - 128 headroom - 32 over-limit slots - 16 reserve\); accepting pauses at (\d+) open");
        Assert.True(stated.Success, host.Describe());
        int limit = int.Parse(stated.Groups[1].Value, CultureInfo.InvariantCulture);
        int open = int.Parse(stated.Groups[3].Value, CultureInfo.InvariantCulture);
        Assert.Equal(Descriptors.ToString(CultureInfo.InvariantCulture), stated.Groups[2].Value);
        Assert.Equal(Descriptors - open - 128 - 32 - 16, limit);
        Assert.Equal(limit + 32, int.Parse(stated.Groups[4].Value, CultureInfo.InvariantCulture));
        Assert.True(limit + 32 < Flood, $"limit {limit}: the flood would not reach it");

        using var neighbour = await FloodWhileNeighbourCallsAsync(port, host);
        string metrics = await GetMetricsAsync(port);
        Assert.Equal(limit, Counter(metrics, "gateway_connection_limit"));
        Assert.True(Counter(metrics, "gateway_accept_paused_total") > 0, metrics);
        // The limit kept the process clear of its descriptor limit: accept never failed.
        Assert.Equal(0, Counter(metrics, "gateway_accept_errors_total{reason=\"too_many_open_files\"}"));
        Assert.DoesNotContain("TooManyOpenSockets", host.StdOut);
        await EchoAsync(neighbour, 101, host);
        neighbour.Abort();
    }

    /// <summary>
    /// Connects the neighbour, floods the host with <see cref="Flood"/> silent sockets until it pauses accepting, checks
    /// that the neighbour's calls are answered meanwhile and the host is alive, then closes the flood.
    /// </summary>
    private static async Task<ClientWebSocket> FloodWhileNeighbourCallsAsync(int port, HostProcess host)
    {
        var neighbour = await ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), o => o.AddSubProtocol("gateway.v1.json"));
        await EchoAsync(neighbour, 0, host);
        var flood = await FloodAsync(port, host);
        try
        {
            Assert.True(await Waits.WaitUntilAsync(() => host.StdOut.Contains("paused at") || host.HasExited, TimeSpan.FromSeconds(20)),
                "the host never paused accepting\n" + host.Describe());
            for (int i = 1; i <= NeighbourCalls; i++) await EchoAsync(neighbour, i, host);
            Assert.False(host.HasExited, host.Describe());
        }
        finally
        {
            foreach (var s in flood) s.Dispose();
        }
        return neighbour;
    }

    /// <summary>
    /// Opens <see cref="Flood"/> sockets that never send a byte. Each connect completes in the kernel (the listen
    /// backlog) whether or not the gateway has accepted it, so this never waits on the gateway; bounded in count and time.
    /// </summary>
    private static async Task<List<Socket>> FloodAsync(int port, HostProcess host)
    {
        var sockets = new List<Socket>(Flood);
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        try
        {
            for (int i = 0; i < Flood; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(s);
                using var cts = new CancellationTokenSource(DefaultTimeout);
                await s.ConnectAsync(endPoint, cts.Token);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            foreach (var s in sockets) s.Dispose();
            throw new InvalidOperationException($"connect {sockets.Count} of {Flood} failed: {ex.Message}\n" + host.Describe(), ex);
        }
        return sockets;
    }

    private static async Task EchoAsync(ClientWebSocket ws, int id, HostProcess host)
    {
        using (var cts = new CancellationTokenSource(DefaultTimeout))
        {
            await ws.SendAsync(Encoding.UTF8.GetBytes("{\"id\":" + id + ",\"path\":\"echo/echo\",\"input\":{\"number\":" + id + "}}"), WebSocketMessageType.Text, true, cts.Token);
        }
        var (type, payload) = await ReceiveMessageAsync(ws);
        Assert.True(type == WebSocketMessageType.Text, $"call {id}: got {type}\n" + host.Describe());
        var reply = JsonDocument.Parse(payload).RootElement;
        Assert.Equal(id, reply.GetProperty("id").GetInt32());
        Assert.Equal(id, reply.GetProperty("result").GetProperty("number").GetInt32());
    }

    /// <summary>GET /metrics on a fresh connection (it may wait in the backlog until the gateway accepts again).</summary>
    private static async Task<string> GetMetricsAsync(int port)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
        await s.SendAsync("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"u8.ToArray(), cts.Token);
        var response = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            int n = await s.ReceiveAsync(buffer, cts.Token);
            if (n == 0) break;
            response.Write(buffer, 0, n);
            // The server waits for us to close after the response (lingering close): stop at the end of the body.
            string sofar = Encoding.UTF8.GetString(response.ToArray());
            var length = Regex.Match(sofar, @"Content-Length: (\d+)", RegexOptions.IgnoreCase);
            int head = sofar.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (length.Success && head >= 0 && response.Length >= head + 4 + int.Parse(length.Groups[1].Value, CultureInfo.InvariantCulture)) break;
        }
        string text = Encoding.UTF8.GetString(response.ToArray());
        Assert.StartsWith("HTTP/1.1 200", text);
        return text;
    }

    private static long Counter(string metrics, string name)
    {
        var m = Regex.Match(metrics, "^" + Regex.Escape(name) + @" (\d+)$", RegexOptions.Multiline);
        Assert.True(m.Success, $"no {name} in\n{metrics}");
        return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
