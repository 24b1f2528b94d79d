using Gateway.Tests.Shared;

namespace Gateway.Server.Tests;

public class ClientFaultLogTests
{
    // A flood of bad requests must not become a flood of log lines: past Limits:ClientFaultLogsPerSecond the
    // lines are counted instead of written, and the count is on /metrics.
    [Fact]
    public async Task A_flood_of_bad_handshakes_is_logged_at_the_configured_rate_and_the_rest_counted()
    {
        const int rate = 5;
        var logs = new LogCapture();
        await using var gw = await TestGateway.StartAsync(o => o.Limits.ClientFaultLogsPerSecond = rate, loggerFactory: logs);
        // The limiter counts per second of Environment.TickCount64: the flood may straddle several of those windows
        // on a slow machine, each allowing `rate` lines; the test counts how many it actually spanned.
        long firstWindow = Environment.TickCount64 / 1000;
        const int flood = 60;
        for (int i = 0; i < flood; i++)
        {
            await using var bad = await RawClient.ConnectAsync(gw.EndPoint);
            await bad.SendAsync("GARBAGE\r\n\r\n");
            var (status, _) = await bad.ReadHttpHeadAsync();
            Assert.Equal(400, status);
        }
        long windows = Environment.TickCount64 / 1000 - firstWindow + 1;

        // Each rejection is logged before its 400 is written, so every line is counted by now.
        int logged = logs.With("handshake rejected").Count;
        long suppressed = gw.Server.Metrics.LogLinesSuppressed;
        Assert.Equal(flood, logged + suppressed);              // every rejection either written or counted
        Assert.InRange(logged, rate, rate * windows);          // at least the first second's worth, at most the rate
        Assert.True(windows * rate < flood, $"the flood of {flood} spanned {windows} windows: too slow to exceed the rate");

        await using var metrics = await RawClient.ConnectAsync(gw.EndPoint);
        await metrics.SendAsync("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        await metrics.ReadHttpHeadAsync();
        var body = await metrics.ReadToEndAsync();
        // Lines of the flood's last lingering closes may still be counted after the read above: at least, not exactly.
        var line = body.Split('\n').Single(l => l.StartsWith("gateway_log_lines_suppressed_total ", StringComparison.Ordinal));
        Assert.InRange(long.Parse(line["gateway_log_lines_suppressed_total ".Length..], System.Globalization.CultureInfo.InvariantCulture), suppressed, long.MaxValue);
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
