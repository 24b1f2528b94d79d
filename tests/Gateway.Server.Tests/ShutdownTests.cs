using static Gateway.Tests.Shared.Waits;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Gateway.Tests.Shared;
using static Gateway.Server.Tests.TestHelpers;

namespace Gateway.Server.Tests;

public class ShutdownTests
{
    [Fact]
    public async Task StopAsync_closes_sessions_with_1001_and_then_nothing_listens()
    {
        await using var gw = await TestGateway.StartAsync();
        var endPoint = gw.EndPoint;
        await using var client = await RawClient.OpenAsync(endPoint);
        // Make sure the session is up and running (echo round trip) before stopping.
        await client.SendTextAsync("before stop");
        Assert.Equal("before stop", (await client.ReadFrameAsync()).Text);
        Assert.True(gw.Server.IsReady);

        var stop = gw.Server.StopAsync();
        var frame = await client.ReadFrameAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(8, frame.Opcode);
        Assert.Equal(1001, frame.CloseCode);
        Assert.False(frame.Masked);
        Assert.False(gw.Server.IsReady);

        // Complete the closing handshake as a well-behaved client would; the server then finishes at once.
        await client.SendAsync(RawClient.CloseFrame(1001));
        Assert.True(await client.WaitForEndAsync(TimeSpan.FromSeconds(5)), "server did not close TCP after the closing handshake");
        await client.DisposeAsync();
        await stop.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, gw.Server.ConnectionCount);

        // The drain is over (nothing was in flight), so the listener is gone: /readyz (like everything else) is refused.
        var ex = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            await using var probe = await RawClient.ConnectAsync(endPoint);
        });
        Assert.Equal(SocketError.ConnectionRefused, ex.SocketErrorCode);
        // What the listener answers during the drain (/readyz 503, upgrades 503) is in Gateway.Policy.Tests' ShutdownTests.
    }

    [Fact]
    public async Task StopAsync_with_a_client_that_never_answers_the_close_finishes_within_the_close_timeout()
    {
        var close = TimeSpan.FromMilliseconds(500);
        await using var gw = await TestGateway.StartAsync(o => o.Timeouts.Close = close);
        await using var client = await RawClient.OpenAsync(gw.EndPoint);
        await client.SendTextAsync("x");
        await client.ReadFrameAsync();

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var stop = gw.Server.StopAsync();
        var frame = await client.ReadFrameAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1001, frame.CloseCode);
        // The client ignores the close frame: the server drops it after Timeouts.Close and StopAsync completes.
        await stop.WaitAsync(TimeSpan.FromSeconds(10));
        var took = clock.Elapsed;
        // Deadlines fire on the heartbeat (50 ms here), up to a tick or two late; the second is slack for a loaded
        // machine, still under TestGateway's default Close of 2 s, which a server ignoring the setting would use.
        var tick = gw.Options.Timeouts.HeartbeatResolution;
        Assert.InRange(took, close - tick, close + 2 * tick + TimeSpan.FromSeconds(1));
        Assert.True(await client.WaitForEndAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, gw.Server.ConnectionCount);
    }

    [Fact]
    public async Task StopAsync_closes_ClientWebSockets_with_EndpointUnavailable()
    {
        await using var gw = await TestGateway.StartAsync();
        var sockets = new List<ClientWebSocket>();
        for (int i = 0; i < 5; i++) sockets.Add(await ConnectAsync(gw.WebSocketUri()));
        Assert.True(await WaitUntilAsync(() => gw.Server.ConnectionCount == 5));

        var stop = gw.Server.StopAsync();
        foreach (var ws in sockets)
        {
            var (type, _) = await ReceiveMessageAsync(ws);
            Assert.Equal(WebSocketMessageType.Close, type);
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, ws.CloseStatus); // 1001
            using var cts = new CancellationTokenSource(DefaultTimeout);
            await ws.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, null, cts.Token);
            ws.Dispose();
        }
        await stop.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, gw.Server.ConnectionCount);
    }

    [Fact]
    public async Task A_connection_aborted_by_shutdown_mid_handshake_is_not_a_handshake_timeout()
    {
        await using var gw = await TestGateway.StartAsync(); // handshake timeout: 5 s, far beyond this test
        await using var client = await RawClient.ConnectAsync(gw.EndPoint);
        await client.SendAsync("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        Assert.True(await WaitUntilAsync(() => gw.Server.ConnectionCount == 1));

        await gw.Server.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(await client.WaitForEndAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, gw.Server.ConnectionCount);
        // Regression: connections aborted by shutdown mid-handshake were counted as handshake timeouts.
        Assert.Equal(0, gw.Server.Metrics.HandshakeTimeouts);
    }

    [Fact]
    public async Task StopAsync_is_idempotent()
    {
        await using var gw = await TestGateway.StartAsync();
        await gw.Server.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await gw.Server.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(gw.Server.IsReady);
    }
}
