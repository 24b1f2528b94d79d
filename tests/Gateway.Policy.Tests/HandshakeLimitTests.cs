using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Server;
using Gateway.Tests.Shared;

namespace Gateway.Policy.Tests;

/// <summary>What happens before the upgrade: Timeouts:Handshake, Limits:MaxHeaderBytes, MaxConnections, MaxConnectionsPerIp, AllowedOrigins.</summary>
public class HandshakeLimitTests
{
    [Fact(Timeout = 30_000)]
    public async Task Slowloris_is_dropped_after_the_handshake_timeout_while_a_normal_client_is_served()
    {
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Timeouts.Handshake = TimeSpan.FromMilliseconds(300);
            o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(20);
        });
        await using var slow = await RawClient.ConnectAsync(gw.EndPoint);
        var clock = Stopwatch.StartNew();
        await slow.SendAsync("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webs"); // half a head, then nothing

        // Meanwhile a normal client upgrades and is served.
        await using var normal = await gw.OpenRpcAsync();
        Assert.Equal("during", await normal.EchoAsync("during"));

        // The slow one gets no response at all: the server drops the TCP connection.
        string received = await slow.ReadToEndAsync(TimeSpan.FromSeconds(5));
        var droppedAt = clock.Elapsed;
        Assert.Equal("", received);
        Assert.True(droppedAt >= TimeSpan.FromMilliseconds(250), $"dropped after {droppedAt.TotalMilliseconds:F0} ms, before the 300 ms handshake timeout");
        Assert.True(droppedAt < TimeSpan.FromSeconds(3), $"dropped only after {droppedAt.TotalMilliseconds:F0} ms");
        Assert.Equal(1, gw.Metrics.HandshakeTimeouts);

        // The normal client, well past the handshake timeout itself, is unaffected.
        Assert.Equal("after", await normal.EchoAsync("after"));
        Assert.False(normal.IsClosed);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_slowloris_that_keeps_dripping_header_bytes_is_dropped_at_the_handshake_timeout_all_the_same()
    {
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Timeouts.Handshake = TimeSpan.FromMilliseconds(300);
            o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(20);
        });
        await using var normal = await gw.OpenRpcAsync();
        await using var drip = await RawClient.ConnectAsync(gw.EndPoint);
        var clock = Stopwatch.StartNew();
        var end = drip.ReadToEndAsync(TimeSpan.FromSeconds(5));
        // One byte of a never-ending header every 50 ms (pacing the attack, not waiting for anything): bytes keep
        // arriving, but the handshake deadline counts from the accept.
        byte[] head = Encoding.ASCII.GetBytes("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + new string('s', 200));
        for (int i = 0; i < head.Length && !end.IsCompleted; i++)
        {
            try { await drip.SendAsync(head.AsMemory(i, 1)); }
            catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException) { break; }
            await Task.WhenAny(end, Task.Delay(50));
        }
        Assert.Equal("", await end);
        var droppedAt = clock.Elapsed;
        Assert.True(droppedAt >= TimeSpan.FromMilliseconds(250) && droppedAt < TimeSpan.FromSeconds(3), $"dropped after {droppedAt.TotalMilliseconds:F0} ms (handshake timeout 300 ms)");
        Assert.Equal(1, gw.Metrics.HandshakeTimeouts);
        Assert.Equal("served", await normal.EchoAsync("served"));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_request_head_over_MaxHeaderBytes_gets_431_and_one_under_it_upgrades()
    {
        await using var gw = await PolicyGateway.StartAsync(o => o.Limits.MaxHeaderBytes = 1024);

        await using var big = await RawClient.ConnectAsync(gw.EndPoint);
        await big.SendAsync(RawClient.UpgradeRequest("/ws", extraHeaders: "X-Pad: " + new string('a', 2000) + "\r\n"));
        var (status, head) = await big.ReadHttpHeadAsync();
        Assert.Equal(431, status);
        Assert.DoesNotContain("Upgrade: websocket", head, StringComparison.OrdinalIgnoreCase);

        await using var fits = await RawClient.ConnectAsync(gw.EndPoint);
        await fits.SendAsync(RawClient.UpgradeRequest("/ws", extraHeaders: "X-Pad: " + new string('a', 500) + "\r\n"));
        Assert.Equal(101, (await fits.ReadHttpHeadAsync()).Status);
        Assert.Equal("fits", Wire.IdOf(await fits.CallAsync("fits", "t/echo")));
    }

    [Fact(Timeout = 30_000)]
    public async Task MaxConnections_refuses_the_third_upgrade_with_503_and_Retry_After_until_one_closes()
    {
        await using var gw = await PolicyGateway.StartAsync(o => o.Limits.MaxConnections = 2);
        await using var first = await gw.OpenRawAsync();
        await using var second = await gw.OpenRpcAsync();

        await using (var third = await RawClient.ConnectAsync(gw.EndPoint))
        {
            var (status, head) = await third.HandshakeAsync("/ws");
            Assert.Equal(503, status);
            Assert.Contains("\r\nRetry-After: ", head, StringComparison.OrdinalIgnoreCase);
        }
        Assert.Equal(1, gw.Metrics.ConnectionLimitRejections);
        // The two admitted connections work.
        Assert.Equal("ok", await second.EchoAsync("ok"));

        // One closes (closing handshake); once the server has let it go, a new upgrade succeeds.
        await first.SendAsync(RawClient.CloseFrame(1000));
        Assert.Equal(1000, await first.ReadCloseAsync());
        Assert.True(await Waits.WaitUntilAsync(() => gw.Server.ConnectionCount == 1), $"connections: {gw.Server.ConnectionCount}");
        await using var fourth = await gw.OpenRpcAsync();
        Assert.Equal("fourth", await fourth.EchoAsync("fourth"));
        Assert.Equal("second", await second.EchoAsync("second"));
        Assert.Equal(1, gw.Metrics.ConnectionLimitRejections);
    }

    [Fact(Timeout = 30_000)]
    public async Task Connections_still_in_the_handshake_count_against_MaxConnections_and_past_the_over_limit_slots_accepting_pauses()
    {
        await using var gw = await PolicyGateway.StartAsync(o => o.Limits.MaxConnections = 2);
        int held = 2 + GatewayServer.OverLimitSlots;
        var silent = new List<RawClient>();
        try
        {
            // Two connections that have sent nothing yet fill the limit: an upgrade is refused.
            for (int i = 0; i < 2; i++) silent.Add(await RawClient.ConnectAsync(gw.EndPoint));
            Assert.True(await Waits.WaitUntilAsync(() => gw.Server.ConnectionCount == 2), $"connections: {gw.Server.ConnectionCount}");
            await using (var refused = await RawClient.ConnectAsync(gw.EndPoint))
            {
                var (status, _) = await refused.HandshakeAsync("/ws");
                Assert.Equal(503, status);
                Assert.Equal("connection limit reached\n", await refused.ReadToEndAsync());
            }

            // Past the over-limit slots the server stops accepting: the kernel's backlog holds the rest.
            for (int i = 0; i < GatewayServer.OverLimitSlots + 10; i++) silent.Add(await RawClient.ConnectAsync(gw.EndPoint));
            Assert.True(await Waits.WaitUntilAsync(() => gw.Metrics.AcceptPauses >= 1 && gw.Server.ConnectionCount == held),
                $"connections: {gw.Server.ConnectionCount}, pauses: {gw.Metrics.AcceptPauses}");
            Assert.Equal(held, gw.Server.ConnectionCount);
            Assert.Equal(2, gw.Metrics.ConnectionLimit);
        }
        finally
        {
            foreach (var s in silent) await s.DisposeAsync();
        }
        // Once they are gone (the backlog ones accepted and ended in turn), upgrades succeed again.
        Assert.True(await Waits.WaitUntilAsync(() => gw.Server.ConnectionCount == 0), $"connections: {gw.Server.ConnectionCount}");
        await using var admitted = await gw.OpenRpcAsync();
        Assert.Equal("in", await admitted.EchoAsync("in"));
    }

    [Fact(Timeout = 30_000)]
    public async Task MaxConnectionsPerIp_refuses_a_third_connection_from_one_address_but_not_from_another()
    {
        await using var gw = await PolicyGateway.StartAsync(o => o.Limits.MaxConnectionsPerIp = 2);
        await using var first = await gw.OpenRawAsync();   // 127.0.0.1
        await using var second = await gw.OpenRpcAsync();  // 127.0.0.1

        await using (var third = await RawClient.ConnectAsync(gw.EndPoint))
        {
            var (status, head) = await third.HandshakeAsync("/ws");
            Assert.Equal(503, status);
            Assert.Contains("\r\nRetry-After: ", head, StringComparison.OrdinalIgnoreCase);
        }
        Assert.Equal(1, gw.Metrics.ConnectionLimitRejections);

        // 127.0.0.2 is another client address on loopback: its limit is untouched by 127.0.0.1's two connections.
        var (other, otherStatus, otherHead) = await Wire.UpgradeFromAsync(IPAddress.Parse("127.0.0.2"), gw.EndPoint, "/ws");
        using (other)
        {
            Assert.True(otherStatus == 101, otherHead);
            await other.SendAsync(Wire.RequestFrame("o1", "t/echo", "{\"text\":\"from .2\"}"), SocketFlags.None);
            var (opcode, payload) = await Wire.ReadServerFrameAsync(other);
            Assert.Equal(1, opcode);
            Assert.Equal("from .2", Wire.Parse(payload).GetProperty("result").GetProperty("text").GetString());
        }

        await first.SendAsync(RawClient.CloseFrame(1000));
        Assert.Equal(1000, await first.ReadCloseAsync());
        Assert.True(await Waits.WaitUntilAsync(() => gw.Server.ConnectionCount == 1), $"connections: {gw.Server.ConnectionCount}");
        await using var again = await gw.OpenRpcAsync(); // 127.0.0.1 has room again
        Assert.Equal("again", await again.EchoAsync("again"));
        Assert.Equal(1, gw.Metrics.ConnectionLimitRejections);
    }

    private static async Task<int> UpgradeWithOriginAsync(IPEndPoint endPoint, string? origin)
    {
        await using var client = await RawClient.ConnectAsync(endPoint);
        await client.SendAsync(RawClient.UpgradeRequest("/ws", extraHeaders: origin is null ? null : $"Origin: {origin}\r\n"));
        return (await client.ReadHttpHeadAsync()).Status;
    }

    [Fact(Timeout = 30_000)]
    public async Task AllowedOrigins_admits_listed_origins_and_clients_without_Origin_and_refuses_others_with_403()
    {
        await using (var gw = await PolicyGateway.StartAsync(o => o.AllowedOrigins = ["https://good.example"]))
        {
            Assert.Equal(101, await UpgradeWithOriginAsync(gw.EndPoint, "https://good.example"));
            Assert.Equal(101, await UpgradeWithOriginAsync(gw.EndPoint, "HTTPS://GOOD.EXAMPLE")); // case-insensitive
            Assert.Equal(403, await UpgradeWithOriginAsync(gw.EndPoint, "https://evil.example"));
            Assert.Equal(403, await UpgradeWithOriginAsync(gw.EndPoint, "https://good.example.evil.example"));
            Assert.Equal(403, await UpgradeWithOriginAsync(gw.EndPoint, "http://good.example")); // another scheme is another origin
            Assert.Equal(101, await UpgradeWithOriginAsync(gw.EndPoint, null)); // non-browser client
            Assert.Equal(3, gw.Metrics.OriginRejections);
        }
        await using (var any = await PolicyGateway.StartAsync(o => o.AllowedOrigins = ["*"]))
        {
            Assert.Equal(101, await UpgradeWithOriginAsync(any.EndPoint, "https://evil.example"));
            Assert.Equal(101, await UpgradeWithOriginAsync(any.EndPoint, "null"));
            Assert.Equal(101, await UpgradeWithOriginAsync(any.EndPoint, null));
            Assert.Equal(0, any.Metrics.OriginRejections);
        }
    }
}
