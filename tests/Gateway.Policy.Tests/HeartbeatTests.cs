using System.Diagnostics;
using System.Text;
using Gateway.Tests.Shared;

namespace Gateway.Policy.Tests;

/// <summary>
/// Keep-alive pings every Timeouts:KeepAliveInterval; close 1001 "client timeout" after Timeouts:ClientTimeout without
/// a byte from the client; close 1001 "idle timeout" after Timeouts:Idle without a data message.
/// </summary>
public class HeartbeatTests
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromMilliseconds(500);

    [Fact(Timeout = 30_000)]
    public async Task A_client_that_never_answers_pings_is_closed_while_one_that_answers_stays_open()
    {
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(20);
            o.Timeouts.KeepAliveInterval = KeepAlive;
            o.Timeouts.ClientTimeout = ClientTimeout;
        });
        await using var live = await gw.OpenRpcAsync();
        await using var silent = await gw.OpenRawAsync();
        var clock = Stopwatch.StartNew(); // the silent client's last byte (its upgrade request) was sent just before

        // The silent client reads (and so sees the pings) but never sends a byte: no pong, no message.
        var silentRun = Task.Run(async () =>
        {
            int pings = 0;
            while (true)
            {
                var f = await silent.TryReadFrameAsync(TimeSpan.FromSeconds(10));
                if (f is null) return (Code: -1, Reason: "", Pings: pings, At: clock.Elapsed);
                if (f.Value.Opcode == 9) pings++;
                if (f.Value.Opcode == 8)
                    return (Code: (int)f.Value.CloseCode, Reason: Encoding.UTF8.GetString(f.Value.Payload, 2, f.Value.Payload.Length - 2), Pings: pings, At: clock.Elapsed);
            }
        });

        var closed = await silentRun.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1001, closed.Code);
        Assert.Equal("client timeout", closed.Reason);
        Assert.True(closed.At >= ClientTimeout - TimeSpan.FromMilliseconds(50), $"closed after {closed.At.TotalMilliseconds:F0} ms, before ClientTimeout");
        Assert.True(closed.At < TimeSpan.FromSeconds(3), $"closed only after {closed.At.TotalMilliseconds:F0} ms");
        Assert.True(closed.Pings >= 2, $"the silent client saw {closed.Pings} pings before its close");

        // The answering client stays open well past the same timeout: keep answering pings (event-driven: the
        // NeighbourClient answers each at once) until ClientTimeout more has passed after the silent one was closed.
        var until = closed.At + ClientTimeout + ClientTimeout;
        while (clock.Elapsed < until)
        {
            await live.NextPingAsync().WaitAsync(TimeSpan.FromSeconds(5));
            Assert.False(live.IsClosed, "the client answering pings was closed");
        }
        Assert.Equal("still here", await live.EchoAsync("still here"));
        Assert.False(live.IsClosed);
        Assert.Equal(1, gw.Metrics.ClientTimeouts);

        // Pings arrive at roughly KeepAliveInterval (heartbeat resolution 20 ms; generous bounds for a loaded machine).
        var times = live.PingTimes;
        Assert.True(times.Length >= 8, $"only {times.Length} pings in {live.Elapsed.TotalMilliseconds:F0} ms");
        var gaps = times.Zip(times.Skip(1), (a, b) => (b - a).TotalMilliseconds).Order().ToArray();
        double median = gaps[gaps.Length / 2];
        Assert.InRange(median, 80, 300);
    }

    [Fact(Timeout = 30_000)]
    public async Task Idle_timeout_closes_a_client_that_only_answers_pings_while_one_sending_messages_stays()
    {
        var idle = TimeSpan.FromMilliseconds(400);
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(20);
            o.Timeouts.KeepAliveInterval = KeepAlive;
            o.Timeouts.ClientTimeout = TimeSpan.FromSeconds(3); // far away: only the idle rule can close anyone here
            o.Timeouts.Idle = idle;
        });
        await using var chatty = await gw.OpenRpcAsync();
        await using var pongOnly = await gw.OpenRpcAsync();
        var clock = Stopwatch.StartNew();

        // The chatty client sends a request each time a ping arrives (paced by the server's pings, no sleeps).
        var closeTask = pongOnly.Closed;
        int calls = 0;
        while (!closeTask.IsCompleted)
        {
            Assert.Equal("tick", await chatty.EchoAsync("tick"));
            calls++;
            await Task.WhenAny(chatty.NextPingAsync(), closeTask).WaitAsync(TimeSpan.FromSeconds(5));
        }
        var (code, reason) = await closeTask;
        var closedAt = clock.Elapsed;
        Assert.Equal(1001, code);
        Assert.Equal("idle timeout", reason);
        Assert.True(closedAt >= idle - TimeSpan.FromMilliseconds(50), $"idle close after {closedAt.TotalMilliseconds:F0} ms");
        Assert.True(pongOnly.PingTimes.Length >= 2, "the pong-only client answered pings before its idle close");

        // The chatty one goes on past another idle period and more.
        while (clock.Elapsed < closedAt + idle + idle)
        {
            Assert.Equal("tock", await chatty.EchoAsync("tock"));
            await chatty.NextPingAsync().WaitAsync(TimeSpan.FromSeconds(5));
        }
        Assert.False(chatty.IsClosed, "the client sending messages was closed");
        Assert.Equal("last", await chatty.EchoAsync("last"));
        Assert.Equal(1, gw.Metrics.IdleTimeouts);
        Assert.Equal(0, gw.Metrics.ClientTimeouts);
    }

    // A client closed for Timeouts:ClientTimeout or Timeouts:Idle has shown it is not talking to us: it gets the close
    // frame and a short grace (1 s), not another whole Timeouts:Close (10 s here) holding its socket open.
    [Theory(Timeout = 30_000)]
    [InlineData("client timeout")]
    [InlineData("idle timeout")]
    public async Task A_client_that_stops_reading_and_sending_is_dropped_within_the_grace_after_its_timeout(string rule)
    {
        var timeout = TimeSpan.FromMilliseconds(500);
        var closeTimeout = TimeSpan.FromSeconds(10);
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(20);
            o.Timeouts.KeepAliveInterval = KeepAlive;
            o.Timeouts.Close = closeTimeout;
            if (rule == "client timeout") o.Timeouts.ClientTimeout = timeout;
            else
            {
                o.Timeouts.ClientTimeout = TimeSpan.FromSeconds(20);
                o.Timeouts.Idle = timeout;
            }
        });
        await using var silent = await gw.OpenRawAsync();
        var clock = Stopwatch.StartNew(); // its last byte (the upgrade request) was sent just before
        // From here on it neither reads (the pings and the close frame stay in its socket buffer) nor sends.

        Assert.True(await Waits.WaitUntilAsync(() => gw.Server.OpenConnections == 0, closeTimeout - TimeSpan.FromSeconds(2)),
            $"the silent client's socket is still open after {clock.Elapsed.TotalMilliseconds:F0} ms");
        var dropped = clock.Elapsed;
        Assert.Equal(1, rule == "client timeout" ? gw.Metrics.ClientTimeouts : gw.Metrics.IdleTimeouts);
        Assert.True(dropped >= timeout, $"dropped after {dropped.TotalMilliseconds:F0} ms, before its timeout");
        // Timeout + 1 s grace, with room for a loaded machine; far below timeout + Timeouts:Close.
        Assert.True(dropped < timeout + TimeSpan.FromSeconds(1) + TimeSpan.FromSeconds(2.5), $"dropped only after {dropped.TotalMilliseconds:F0} ms");
        Assert.NotEmpty(gw.Logs.With("aborted: closing handshake timed out"));
    }
}
