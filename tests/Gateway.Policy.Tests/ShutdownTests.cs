using System.Diagnostics;
using Gateway.Tests.Shared;

namespace Gateway.Policy.Tests;

/// <summary>
/// Graceful stop (RpcConnection.DrainAsync): in-flight requests finish within Timeouts:Shutdown, new calls get
/// UNAVAILABLE, streams end with an UNAVAILABLE error, /readyz answers 503, then every connection is closed with 1001.
/// </summary>
public class ShutdownTests
{
    [Fact(Timeout = 30_000)]
    public async Task StopAsync_finishes_in_flight_requests_refuses_new_ones_ends_streams_reports_not_ready_then_closes_1001()
    {
        await using var gw = await PolicyGateway.StartAsync(o => o.Timeouts.Shutdown = TimeSpan.FromSeconds(5));
        await using var client = await gw.OpenRawAsync();

        // Before the stop /readyz says ready.
        await using (var before = await RawClient.ConnectAsync(gw.EndPoint))
        {
            await before.SendAsync("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            Assert.Equal(200, (await before.ReadHttpHeadAsync()).Status);
        }

        // A stream, and three requests in flight.
        await client.SendRequestAsync("s", "t/hold");
        var ready = await client.ReadMessageAsync();
        Assert.Equal("ready", ready.GetProperty("data").GetString());
        await client.SendAsync(Wire.Concat(Enumerable.Range(1, 3).Select(i => Wire.RequestFrame("w" + i, "t/wait", "{\"ms\":500}"))));
        Assert.True(await Waits.WaitUntilAsync(() => gw.Service.Running == 3), $"running: {gw.Service.Running}");

        var clock = Stopwatch.StartNew();
        var stop = gw.Server.StopAsync();
        var messages = new List<System.Text.Json.JsonElement>();

        // 1. The stream ends with an UNAVAILABLE error (the drain has begun).
        var streamEnd = await client.ReadMessageAsync();
        Assert.Equal("s", Wire.IdOf(streamEnd));
        Assert.Equal("UNAVAILABLE", Wire.ErrorCode(streamEnd));
        Assert.Equal(503, streamEnd.GetProperty("error").GetProperty("status").GetInt32());
        Assert.True(streamEnd.GetProperty("error").GetProperty("retryable").GetBoolean());
        await gw.Service.HoldCancelled.Task.WaitAsync(TimeSpan.FromSeconds(5));

        // 2. A new request during the drain is refused with UNAVAILABLE.
        await client.SendRequestAsync("late", "t/echo");
        var late = await client.ReadReplyAsync("late", other: messages.Add);
        Assert.Equal("UNAVAILABLE", Wire.ErrorCode(late));
        Assert.True(late.GetProperty("error").GetProperty("retryable").GetBoolean());

        // 3. /readyz during the drain, on a connection made after the stop began: 503.
        await using var probe = await RawClient.ConnectAsync(gw.EndPoint);
        await probe.SendAsync("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        var (status, _) = await probe.ReadHttpHeadAsync();
        Assert.Equal(503, status);
        Assert.Equal("stopping\n", await probe.ReadToEndAsync());
        Assert.True(gw.Service.WaitsCompleted < 3, "the in-flight requests had already finished: the probe was not during the drain");

        // 4. The three results, then close 1001 and nothing after it.
        var (rest, code, reason, after) = await client.ReadUntilCloseAsync();
        messages.AddRange(rest);
        var closedAt = clock.Elapsed;
        Assert.Equal(1001, code);
        Assert.Equal("server shutting down", reason);
        Assert.Equal(0, after);
        Assert.Equal(new string?[] { "w1", "w2", "w3" }, messages.Select(Wire.IdOf).Order().ToArray());
        Assert.All(messages, m => Assert.Equal(500, m.GetProperty("result").GetProperty("ms").GetInt32()));
        Assert.True(closedAt < TimeSpan.FromSeconds(4), $"closed after {closedAt.TotalMilliseconds:F0} ms: the drain did not end when the calls did");
        await stop.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, gw.Server.ConnectionCount);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_request_still_running_at_Timeouts_Shutdown_is_answered_UNAVAILABLE_then_the_connection_closed_1001()
    {
        await using var gw = await PolicyGateway.StartAsync(o => o.Timeouts.Shutdown = TimeSpan.FromMilliseconds(300));
        await using var client = await gw.OpenRawAsync();
        await client.SendRequestAsync("b", "t/block");
        await gw.Service.BlockStarted.Task.WaitAsync(TimeSpan.FromSeconds(5));

        var clock = Stopwatch.StartNew();
        var stop = gw.Server.StopAsync();
        var (messages, code, _, after) = await client.ReadUntilCloseAsync();
        var closedAt = clock.Elapsed;
        Assert.Equal(1001, code);
        Assert.Equal(0, after);
        // The caller learns its call was cut off (and may retry elsewhere) before the close, not just a dropped socket.
        var cutOff = Assert.Single(messages);
        Assert.Equal("b", Wire.IdOf(cutOff));
        Assert.Equal("UNAVAILABLE", Wire.ErrorCode(cutOff));
        Assert.Equal(503, cutOff.GetProperty("error").GetProperty("status").GetInt32());
        Assert.True(cutOff.GetProperty("error").GetProperty("retryable").GetBoolean());
        Assert.True(closedAt >= TimeSpan.FromMilliseconds(250), $"closed after {closedAt.TotalMilliseconds:F0} ms, before Timeouts:Shutdown");
        Assert.True(closedAt < TimeSpan.FromSeconds(3), $"closed only after {closedAt.TotalMilliseconds:F0} ms");
        await gw.Service.BlockCancelled.Task.WaitAsync(TimeSpan.FromSeconds(5)); // its token fired when the connection went
        await stop.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact(Timeout = 30_000)]
    public async Task During_the_drain_the_listener_answers_probes_readyz_503_healthz_200_refuses_upgrades_503_then_closes()
    {
        await using var gw = await PolicyGateway.StartAsync(o => o.Timeouts.Shutdown = TimeSpan.FromSeconds(10));
        await using var client = await gw.OpenRawAsync();
        await client.SendRequestAsync("b", "t/block");
        await gw.Service.BlockStarted.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var endPoint = gw.EndPoint;

        // The blocked call keeps the drain going (up to 10 s): everything below happens inside it.
        var stop = gw.Server.StopAsync();
        Assert.True(await Waits.WaitUntilAsync(() => !gw.Server.IsReady));

        async Task<(int Status, string Head, string Body)> GetAsync(string request)
        {
            await using var probe = await RawClient.ConnectAsync(endPoint);
            await probe.SendAsync(request);
            var (status, head) = await probe.ReadHttpHeadAsync();
            return (status, head, await probe.ReadToEndAsync());
        }
        var ready = await GetAsync("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        Assert.Equal(503, ready.Status);
        Assert.Equal("stopping\n", ready.Body);
        var health = await GetAsync("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        Assert.Equal(200, health.Status);
        var upgrade = await GetAsync(RawClient.UpgradeRequest(gw.Options.WebSocketPath, subprotocols: "gateway.v1.json"));
        Assert.Equal(503, upgrade.Status);
        Assert.Contains("Retry-After: 5", upgrade.Head);
        Assert.False(stop.IsCompleted, "the drain ended before the probes: they proved nothing");

        // The caller cancels the call, which ends the drain; then the listener closes and the stop completes.
        await client.SendAsync(Wire.TextFrame("{\"id\":\"b\",\"cancel\":true}"));
        var (_, code, _, _) = await client.ReadUntilCloseAsync();
        Assert.Equal(1001, code);
        await stop.WaitAsync(TimeSpan.FromSeconds(10));
        var refused = await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(async () =>
        {
            await using var late = await RawClient.ConnectAsync(endPoint);
        });
        Assert.Equal(System.Net.Sockets.SocketError.ConnectionRefused, refused.SocketErrorCode);
    }
}
