using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using Gateway.Tests.Shared;
using static Gateway.Server.Tests.TestHelpers;

namespace Gateway.Server.Tests;

/// <summary>The real host executable: bad configuration stops it with exit code 2 and a message naming the key; SIGTERM stops it cleanly.</summary>
public class HostStartupTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    private static async Task<HostProcess> RunToExitAsync(params string[] args)
    {
        var host = HostProcess.Start(args);
        Assert.True(await host.WaitForExitAsync(ExitTimeout), "host did not exit within 30 s\n" + host.Describe());
        return host;
    }

    [Fact]
    public void The_host_is_built_next_to_the_tests_in_the_same_configuration()
    {
        string dll = HostProcess.HostDllPath();
        Assert.True(File.Exists(dll));
        string config = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name; // bin/<Configuration>/net10.0
        Assert.Contains(Path.Combine("bin", config, "net10.0"), dll);
    }

    [Fact]
    public async Task Out_of_range_value_exits_2_naming_the_key_and_the_range()
    {
        using var host = await RunToExitAsync("--Gateway:Limits:MaxMessageBytes=10");
        Assert.True(host.ExitCode == 2, host.Describe());
        Assert.Contains("Gateway:Limits:MaxMessageBytes", host.StdErr);
        Assert.Contains("between", host.StdErr);
    }

    [Fact]
    public async Task Value_of_the_wrong_type_exits_2_naming_the_key()
    {
        using var host = await RunToExitAsync("--Gateway:Limits:MaxMessageBytes=abc");
        Assert.True(host.ExitCode == 2, host.Describe());
        Assert.Contains("Gateway:Limits:MaxMessageBytes must be a whole number, between 125 and 1073741824 (got 'abc')", host.StdErr);
    }

    [Fact]
    public async Task Unknown_key_exits_2_naming_its_full_path()
    {
        using var host = await RunToExitAsync("--Gateway:Limits:MaxMessageByte=5");
        Assert.True(host.ExitCode == 2, host.Describe());
        Assert.Contains("Gateway:Limits:MaxMessageByte is not a configuration key", host.StdErr);
        Assert.Contains("MaxMessageBytes", host.StdErr);
        Assert.DoesNotContain("LimitsOptions", host.StdErr);
    }

    [Theory]
    [InlineData("--Gateway:Limits:SlowConsumerPolicy=DropOldest", "Gateway:Limits:SlowConsumerPolicy must be one of DropNewest, Close (got 'DropOldest')")]
    [InlineData("--Gateway:Backplane:Type=Kafka", "Gateway:Backplane:Type must be one of InMemory, Redis (got 'Kafka')")]
    [InlineData("--Gateway:Timeouts:Handshake=10", "Gateway:Timeouts:Handshake must be a duration written hh:mm:ss")]
    public async Task A_bad_enum_or_a_bare_number_for_a_duration_exits_2_saying_what_is_allowed(string arg, string expected)
    {
        using var host = await RunToExitAsync(arg);
        Assert.True(host.ExitCode == 2, host.Describe());
        Assert.Contains(expected, host.StdErr);
    }

    [Fact]
    public async Task Starts_serves_health_and_echo_and_stops_with_exit_0_on_SIGTERM()
    {
        using var host = HostProcess.Start("--Gateway:Listen:0=127.0.0.1:0", "--Gateway:EchoPath=/echo");
        int port = await host.BoundPortAsync(ExitTimeout);
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);

        // Bounded wait until /healthz answers 200.
        var deadline = DateTime.UtcNow + ExitTimeout;
        int status = 0;
        while (DateTime.UtcNow < deadline && !host.HasExited)
        {
            status = await TryGetStatusAsync(endPoint, "/healthz");
            if (status == 200) break;
            await Task.Delay(10);
        }
        Assert.True(status == 200, "host never answered /healthz with 200\n" + host.Describe());
        // /readyz is polled too rather than asserted once: GatewayServer.StartAsync starts its accept loops before it
        // sets IsReady, so for a moment just after start /readyz can answer 503 (see the report; a race, not tested).
        while (DateTime.UtcNow < deadline && !host.HasExited && (status = await TryGetStatusAsync(endPoint, "/readyz")) != 200) await Task.Delay(10);
        Assert.True(status == 200, "host never answered /readyz with 200\n" + host.Describe());

        using (var ws = await ConnectAsync(new Uri($"ws://127.0.0.1:{port}/echo")))
        {
            using var cts = new CancellationTokenSource(DefaultTimeout);
            await ws.SendAsync("hello host"u8.ToArray(), WebSocketMessageType.Text, true, cts.Token);
            var (type, payload) = await ReceiveMessageAsync(ws);
            Assert.Equal(WebSocketMessageType.Text, type);
            Assert.Equal("hello host", System.Text.Encoding.UTF8.GetString(payload));
            await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
            Assert.Equal(WebSocketCloseStatus.NormalClosure, ws.CloseStatus);
        }

        await host.SendSigTermAsync();
        Assert.True(await host.WaitForExitAsync(ExitTimeout), "host did not stop within 30 s of SIGTERM\n" + host.Describe());
        Assert.True(host.ExitCode == 0, host.Describe());
    }

    [Fact]
    public async Task SIGTERM_closes_a_connected_client_with_1001_and_exits_0()
    {
        using var host = HostProcess.Start("--Gateway:Listen:0=127.0.0.1:0", "--Gateway:EchoPath=/echo");
        int port = await host.BoundPortAsync(ExitTimeout);
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var deadline = DateTime.UtcNow + ExitTimeout;
        while (DateTime.UtcNow < deadline && !host.HasExited && await TryGetStatusAsync(endPoint, "/readyz") != 200) await Task.Delay(10);

        await using var client = await RawClient.OpenAsync(endPoint);
        await host.SendSigTermAsync();
        var close = await client.ReadFrameAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(8, close.Opcode);
        Assert.Equal(1001, close.CloseCode);
        await client.SendAsync(RawClient.CloseFrame(1001));
        Assert.True(await client.WaitForEndAsync(TimeSpan.FromSeconds(10)));
        await client.DisposeAsync();

        Assert.True(await host.WaitForExitAsync(ExitTimeout), "host did not stop within 30 s of SIGTERM\n" + host.Describe());
        Assert.True(host.ExitCode == 0, host.Describe());
    }

    [Fact]
    public async Task A_port_already_in_use_exits_3()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var host = await RunToExitAsync($"--Gateway:Listen:0=127.0.0.1:{port}");
        Assert.True(host.ExitCode == 3, host.Describe());
        Assert.Contains("Cannot listen", host.StdOut + host.StdErr);
    }

    /// <summary>GET path over a raw socket: the status code, or 0 when nothing listens yet.</summary>
    internal static async Task<int> TryGetStatusAsync(IPEndPoint endPoint, string path)
    {
        try
        {
            await using var client = await RawClient.ConnectAsync(endPoint);
            await client.SendAsync($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            var (status, _) = await client.ReadHttpHeadAsync(TimeSpan.FromSeconds(5));
            return status;
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            return 0;
        }
    }
}
