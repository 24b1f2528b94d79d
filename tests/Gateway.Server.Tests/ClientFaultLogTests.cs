using Gateway.Tests.Shared;

namespace Gateway.Server.Tests;

public class ClientFaultLogTests
{
    // A flood of bad requests must not become a flood of log lines: past Limits:ClientFaultLogsPerSecond the
    // lines are counted instead of written, and the count is on /metrics.
    [Fact]
    public async Task A_flood_of_bad_handshakes_is_logged_at_the_configured_rate_and_the_rest_counted()
    {
        var logs = new LogCapture();
        await using var gw = await TestGateway.StartAsync(o => o.Limits.ClientFaultLogsPerSecond = 5, loggerFactory: logs);
        long start = Environment.TickCount64 / 1000;
        const int flood = 60;
        for (int i = 0; i < flood; i++)
        {
            await using var bad = await RawClient.ConnectAsync(gw.EndPoint);
            await bad.SendAsync("GARBAGE\r\n\r\n");
            var (status, _) = await bad.ReadHttpHeadAsync();
            Assert.Equal(400, status);
        }
        // Every rejection is either written or counted, and no one-second window wrote more than 5.
        int written = logs.With("handshake rejected").Count;
        long windows = Environment.TickCount64 / 1000 - start + 1;
        Assert.InRange(written, 1, 5 * windows);
        Assert.Equal(flood, written + gw.Server.Metrics.LogLinesSuppressed);

        await using var metrics = await RawClient.ConnectAsync(gw.EndPoint);
        await metrics.SendAsync("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        await metrics.ReadHttpHeadAsync();
        var body = await metrics.ReadToEndAsync();
        Assert.Contains("gateway_log_lines_suppressed_total ", body);
        Assert.DoesNotContain("gateway_log_lines_suppressed_total 0\n", body);
    }

    [Fact]
    public async Task With_no_limit_nothing_is_suppressed()
    {
        var logs = new LogCapture();
        await using var gw = await TestGateway.StartAsync(o => o.Limits.ClientFaultLogsPerSecond = 0, loggerFactory: logs);
        for (int i = 0; i < 20; i++)
        {
            await using var bad = await RawClient.ConnectAsync(gw.EndPoint);
            await bad.SendAsync("GARBAGE\r\n\r\n");
            Assert.Equal(400, (await bad.ReadHttpHeadAsync()).Status);
        }
        Assert.Equal(0, gw.Server.Metrics.LogLinesSuppressed);
        Assert.Equal(20, logs.With("handshake rejected").Count);
    }
}
