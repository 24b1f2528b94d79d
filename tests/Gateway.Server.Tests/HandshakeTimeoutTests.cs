using static Gateway.Tests.Shared.Waits;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Gateway.Tests.Shared;
using static Gateway.Server.Tests.TestHelpers;

namespace Gateway.Server.Tests;

public class HandshakeTimeoutTests
{
    [Fact]
    public async Task A_client_that_sends_nothing_is_dropped_and_counted_once()
    {
        await using var gw = await TestGateway.StartAsync(o => o.Timeouts.Handshake = TimeSpan.FromMilliseconds(300));
        await using var client = await RawClient.ConnectAsync(gw.EndPoint);
        Assert.True(await client.WaitForEndAsync(TimeSpan.FromSeconds(5)), "silent client was not dropped");
        Assert.True(await WaitUntilAsync(() => gw.Server.Metrics.HandshakeTimeouts >= 1), "handshake timeout was not counted");
        // Once the connection is fully gone, every counter update for it has happened.
        Assert.True(await WaitUntilAsync(() => gw.Server.ConnectionCount == 0));
        // Regression: one timeout used to be counted twice (by the heartbeat and again by the handshake reader).
        Assert.Equal(1, gw.Server.Metrics.HandshakeTimeouts);
    }

    [Fact]
    public async Task A_client_that_sends_half_a_request_is_dropped()
    {
        await using var gw = await TestGateway.StartAsync(o => o.Timeouts.Handshake = TimeSpan.FromMilliseconds(300));
        await using var client = await RawClient.ConnectAsync(gw.EndPoint);
        await client.SendAsync("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        Assert.True(await client.WaitForEndAsync(TimeSpan.FromSeconds(5)), "slowloris client was not dropped");
        Assert.True(await WaitUntilAsync(() => gw.Server.ConnectionCount == 0));
        Assert.Equal(1, gw.Server.Metrics.HandshakeTimeouts);
    }

    [Fact]
    public async Task An_upgraded_session_is_not_subject_to_the_handshake_timeout()
    {
        // Long enough for a cold, loaded CI machine to finish the upgrade (first SHA-1 use loads OpenSSL).
        await using var gw = await TestGateway.StartAsync(o => o.Timeouts.Handshake = TimeSpan.FromMilliseconds(1500));
        await using var client = await RawClient.OpenAsync(gw.EndPoint);
        // Wait (bounded) until well past the handshake deadline has been checked by the heartbeat, using a second,
        // silent connection as the clock: once it has been dropped, the upgraded one would have been too.
        await using var silent = await RawClient.ConnectAsync(gw.EndPoint);
        Assert.True(await silent.WaitForEndAsync(TimeSpan.FromSeconds(5)));
        await client.SendTextAsync("still here");
        Assert.Equal("still here", (await client.ReadFrameAsync()).Text);
    }
}
