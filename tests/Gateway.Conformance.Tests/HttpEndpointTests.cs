using System.Diagnostics;
using System.Text;
using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>The plain HTTP endpoints and the slow-header (slowloris) protection.</summary>
public class HttpEndpointTests
{
    private static async Task<(int Status, string Head, string Body)> GetAsync(TestGateway gw, string path, string method = "GET")
    {
        await using var c = await RawClient.ConnectAsync(gw.EndPoint);
        await c.SendAsync($"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        var (status, head) = await c.ReadHttpHeadAsync(Normal);
        string body = await c.ReadToEndAsync(Normal);
        return (status, head, body);
    }

    [Fact]
    public async Task Healthz_is_200_ok()
    {
        await using var gw = await TestGateway.StartAsync();
        var (status, _, body) = await GetAsync(gw, "/healthz");
        Assert.Equal(200, status);
        Assert.Equal("ok\n", body);
    }

    [Fact]
    public async Task Readyz_is_200()
    {
        await using var gw = await TestGateway.StartAsync();
        var (status, _, _) = await GetAsync(gw, "/readyz");
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task Metrics_is_200_prometheus_text()
    {
        await using var gw = await TestGateway.StartAsync();
        var (status, head, body) = await GetAsync(gw, "/metrics");
        Assert.Equal(200, status);
        Assert.Contains("Content-Type: text/plain", head);
        var line = Assert.Single(body.Split('\n'), l => l.StartsWith("gateway_connections_accepted_total", StringComparison.Ordinal));
        Assert.Equal("gateway_connections_accepted_total 1", line); // this request's own connection, on a fresh gateway
    }

    [Fact]
    public async Task Metrics_count_protocol_errors_by_close_code()
    {
        await using var gw = await TestGateway.StartAsync();
        await using (var c = await RawClient.OpenAsync(gw.EndPoint))
        {
            await c.SendAsync(RawClient.Frame(Text, [0xFF]));
            await ExpectCloseAsync(c, 1007);
        }
        var (_, _, body) = await GetAsync(gw, "/metrics");
        Assert.Contains("gateway_protocol_errors_total{code=\"1007\"} 1\n", body);
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    [InlineData("/metrics")]
    public async Task Health_endpoints_only_allow_GET_and_HEAD(string path)
    {
        await using var gw = await TestGateway.StartAsync();
        var (status, head, _) = await GetAsync(gw, path, "POST");
        Assert.Equal(405, status);
        Assert.Contains("Allow: GET, HEAD", head);
        var (headStatus, _, headBody) = await GetAsync(gw, path, "HEAD");
        Assert.Equal(200, headStatus);
        Assert.Equal("", headBody);
    }

    [Fact]
    public async Task Unknown_path_is_404()
    {
        await using var gw = await TestGateway.StartAsync();
        var (status, _, _) = await GetAsync(gw, "/does-not-exist");
        Assert.Equal(404, status);
    }

    // Slowloris: half a request head and then silence. The server drops TCP after Timeouts.Handshake without answering,
    // while another client on the same server upgrades and echoes normally.
    [Theory]
    [InlineData("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: web")]
    [InlineData("GET /ech")]
    [InlineData("GET /healthz HTTP/1.1\r\n")]
    [InlineData("")]
    public async Task Slow_client_is_dropped_without_a_response_and_does_not_block_others(string partialHead)
    {
        // The normal client is subject to the same deadline: leave room for a cold, loaded CI machine
        // (first SHA-1 use loads OpenSSL, JIT, three test assemblies in parallel on 2 cores).
        await using var gw = await TestGateway.StartAsync(o => o.Timeouts.Handshake = TimeSpan.FromMilliseconds(1500));
        await using var slow = await RawClient.ConnectAsync(gw.EndPoint);
        var clock = Stopwatch.StartNew();
        if (partialHead.Length > 0) await slow.SendAsync(partialHead);

        await using (var normal = await RawClient.OpenAsync(gw.EndPoint))
        {
            await AssertStillEchoesAsync(normal, "not blocked by the slow client");
        }

        var (data, ended) = await DrainAsync(slow.Socket, TimeSpan.FromSeconds(6));
        Assert.True(ended, "the slow client's connection was not dropped");
        Assert.True(data.Length == 0, "the slow client got a response: " + Encoding.ASCII.GetString(data));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(1400), $"dropped after {clock.ElapsedMilliseconds} ms, before the handshake timeout");
        await AssertServerHealthyAsync(gw);
    }

    // The handshake deadline is for the whole head: trickling bytes does not extend it.
    [Fact]
    public async Task Trickling_client_is_dropped_at_the_handshake_deadline()
    {
        await using var gw = await TestGateway.StartAsync(o => o.Timeouts.Handshake = TimeSpan.FromMilliseconds(500));
        await using var slow = await RawClient.ConnectAsync(gw.EndPoint);
        var clock = Stopwatch.StartNew();
        var head = Encoding.ASCII.GetBytes("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + new string('s', 500));
        int sent = 0;
        bool dropped = false;
        // One byte per receive timeout of 20 ms: the client keeps trickling until the server hangs up (or 3 s pass).
        while (clock.Elapsed < TimeSpan.FromSeconds(3) && sent < head.Length)
        {
            try { await slow.SendAsync(head.AsMemory(sent++, 1)); }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException) { dropped = true; break; }
            var (data, ended) = await DrainAsync(slow.Socket, TimeSpan.FromMilliseconds(20));
            Assert.True(data.Length == 0, "the slow client got a response: " + Encoding.ASCII.GetString(data));
            if (ended) { dropped = true; break; }
        }
        Assert.True(dropped, $"still connected after {clock.ElapsedMilliseconds} ms and {sent} bytes");
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(2.5));
    }
}
