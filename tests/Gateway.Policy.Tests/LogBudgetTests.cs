using System.Text.Json;
using Gateway.Tests.Shared;
using Microsoft.Extensions.Logging;

namespace Gateway.Policy.Tests;

/// <summary>
/// Limits:ClientFaultLogsPerSecond from outside: floods a client can cause (handler failures, sockets dropped at a
/// timeout, clients that never finish the closing handshake) write at most the budget per second, every line past
/// it is counted and summarized, and the replies and metrics stay exact. Lines the logger would not write (below
/// its level) do not spend the budget.
/// </summary>
public class LogBudgetTests
{
    private const int Budget = 5;

    /// <summary>The one-second windows (TickCount64 / 1000) the flood may have spanned since <paramref name="startSecond"/>.</summary>
    internal static long WindowsSince(long startSecond) => Environment.TickCount64 / 1000 - startSecond + 1;

    /// <summary>
    /// Sends <paramref name="count"/> t/throw calls in one burst, calls <paramref name="during"/> while they are being
    /// answered, reads every reply. Returns how many replies were INTERNAL.
    /// </summary>
    internal static async Task<int> CrashFloodAsync(PolicyGateway gw, int count, Func<Task>? during = null)
    {
        await using var flood = await gw.OpenRawAsync();
        await flood.SendAsync(Wire.Concat(Enumerable.Range(0, count).Select(i => Wire.RequestFrame(i, "t/throw"))));
        if (during is not null) await during();
        int internalReplies = 0;
        for (int answered = 0; answered < count; answered++)
        {
            var reply = await flood.ReadMessageAsync(TimeSpan.FromSeconds(20));
            if (Wire.ErrorCode(reply) == "INTERNAL") internalReplies++;
            Assert.DoesNotContain("secret-123", reply.GetRawText());
        }
        return internalReplies;
    }

    /// <summary>Opens <paramref name="count"/> sockets that never send a byte and waits until the handshake timeout has dropped them all.</summary>
    internal static async Task SilentSocketsAsync(PolicyGateway gw, int count, Func<Task>? during = null)
    {
        int before = gw.Server.ConnectionCount;
        var sockets = new List<RawClient>(count);
        try
        {
            for (int i = 0; i < count; i++) sockets.Add(await RawClient.ConnectAsync(gw.EndPoint));
            if (during is not null) await during();
            Assert.True(await Waits.WaitUntilAsync(() => gw.Metrics.HandshakeTimeouts == count && gw.Server.ConnectionCount == before, TimeSpan.FromSeconds(20)),
                $"{gw.Metrics.HandshakeTimeouts} handshake timeouts, {gw.Server.ConnectionCount} connections");
        }
        finally
        {
            foreach (var s in sockets) await s.DisposeAsync();
        }
    }

    /// <summary>
    /// Every line counted against the budget is either written or suppressed; no window let more than the budget
    /// through; the heartbeat's summaries add up to what was suppressed.
    /// </summary>
    internal static async Task AssertBoundedAsync(PolicyGateway gw, long startSecond, int budgeted, int written)
    {
        long windows = WindowsSince(startSecond);
        Assert.InRange(written, 1, Budget * windows);
        Assert.Equal(budgeted, written + gw.Metrics.LogLinesSuppressed);
        Assert.True(await Waits.WaitUntilAsync(() => gw.Logs.SuppressedInSummaries == gw.Metrics.LogLinesSuppressed, TimeSpan.FromSeconds(5)),
            $"summaries say {gw.Logs.SuppressedInSummaries} suppressed, the metric {gw.Metrics.LogLinesSuppressed}");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_handler_crash_flood_gets_every_INTERNAL_reply_and_a_bounded_log()
    {
        const int calls = 2_000;
        await using var gw = await PolicyGateway.StartAsync(o => o.Limits.ClientFaultLogsPerSecond = Budget);
        long start = Environment.TickCount64 / 1000;

        Assert.Equal(calls, await CrashFloodAsync(gw, calls));

        Assert.Equal(calls, gw.Metrics.InternalErrors);
        var written = gw.Logs.With("handler for t/throw failed");
        // The lines that are written keep their stack trace: that is what an operator needs from the first ones.
        Assert.All(written, e => Assert.Contains("secret-123", e.Exception?.ToString()));
        Assert.All(written, e => Assert.Equal(LogLevel.Error, e.Level));
        await AssertBoundedAsync(gw, start, calls, written.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task Silent_sockets_dropped_at_the_handshake_timeout_are_logged_within_the_budget()
    {
        const int sockets = 300;
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Limits.ClientFaultLogsPerSecond = Budget;
            o.Timeouts.Handshake = TimeSpan.FromMilliseconds(300);
        });
        long start = Environment.TickCount64 / 1000;

        await SilentSocketsAsync(gw, sockets);

        await AssertBoundedAsync(gw, start, sockets, gw.Logs.With("aborted: handshake timeout").Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task Clients_that_never_answer_the_close_are_logged_within_the_budget()
    {
        // Each client breaks the protocol (an unmasked frame) and then ignores the server's close: one protocol-error
        // line and one "aborted" line when Timeouts:Close runs out, both on the budget.
        const int clients = 100;
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Limits.ClientFaultLogsPerSecond = Budget;
            o.Timeouts.Close = TimeSpan.FromMilliseconds(300);
        });
        long start = Environment.TickCount64 / 1000;
        var bad = new List<RawClient>(clients);
        try
        {
            for (int i = 0; i < clients; i++)
            {
                var c = await gw.OpenRawAsync();
                bad.Add(c);
                await c.SendAsync(RawClient.Frame(1, "{}"u8, mask: false));
            }
            Assert.True(await Waits.WaitUntilAsync(() => gw.Server.ConnectionCount == 0, TimeSpan.FromSeconds(20)), $"{gw.Server.ConnectionCount} connections left");
        }
        finally
        {
            foreach (var c in bad) await c.DisposeAsync();
        }

        Assert.Equal(clients, gw.Metrics.ProtocolErrors(1002));
        int written = gw.Logs.With("protocol error").Count + gw.Logs.With("aborted: peer did not close in time").Count;
        await AssertBoundedAsync(gw, start, 2 * clients, written);
    }

    [Fact(Timeout = 60_000)]
    public async Task Lines_below_the_log_level_do_not_hide_another_clients_lines()
    {
        // Invalid envelopes are logged at Debug; the capture (like a default host) writes Information and up. One
        // client's hundreds of unwritten Debug lines must leave the whole budget to another client's protocol errors.
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Limits.ClientFaultLogsPerSecond = Budget;
            o.Limits.MaxBadMessages = 10_000;
        });
        await using var noisy = await gw.OpenRawAsync();
        const int rounds = 3;
        for (int round = 0; round < rounds; round++)
        {
            await noisy.SendAsync(Wire.Concat(Enumerable.Range(0, 200).Select(i => Wire.TextFrame("{\"bad\":" + i + "}"))));
            var echo = await noisy.CallAsync("r" + round, "t/echo", "{\"text\":\"x\"}");
            Assert.True(echo.TryGetProperty("result", out _), echo.GetRawText());

            await using var breaker = await gw.OpenRawAsync();
            await breaker.SendAsync(RawClient.Frame(1, "{}"u8, mask: false));
            var (_, code, _, _) = await breaker.ReadUntilCloseAsync();
            Assert.Equal(1002, code);
        }

        Assert.Equal(rounds, gw.Logs.With("protocol error").Count);
        Assert.Equal(0, gw.Metrics.LogLinesSuppressed);
    }
}
