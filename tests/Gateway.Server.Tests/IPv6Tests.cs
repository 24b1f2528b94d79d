using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Gateway.Tests.Shared;
using static Gateway.Server.Tests.TestHelpers;

namespace Gateway.Server.Tests;

public class IPv6Tests
{
    [Fact]
    public async Task Listens_on_IPv6_loopback_and_accepts_a_ClientWebSocket()
    {
        // Hosts without IPv6 have nothing to test here (documented: the test passes trivially there).
        if (!Socket.OSSupportsIPv6) return;
        await using var gw = await TestGateway.StartAsync(o => o.Listen = ["[::1]:0"]);
        Assert.Equal(IPAddress.IPv6Loopback, gw.EndPoint.Address);
        Assert.NotEqual(0, gw.Port);

        using var ws = await ConnectAsync(new Uri($"ws://[::1]:{gw.Port}/echo"));
        using var cts = new CancellationTokenSource(DefaultTimeout);
        await ws.SendAsync("over IPv6"u8.ToArray(), WebSocketMessageType.Text, true, cts.Token);
        var (_, echo) = await ReceiveMessageAsync(ws);
        Assert.Equal("over IPv6", Encoding.UTF8.GetString(echo));
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, ws.CloseStatus);
    }

    [Fact]
    public async Task Localhost_listens_on_both_loopbacks()
    {
        if (!Socket.OSSupportsIPv6) return;
        int port = HostStartupTests.FreePort();
        await using var gw = await TestGateway.StartAsync(o => o.Listen = [$"localhost:{port}"]);
        Assert.Equal(2, gw.Server.BoundEndPoints.Count);
        foreach (var host in new[] { "127.0.0.1", "[::1]" })
        {
            using var ws = await ConnectAsync(new Uri($"ws://{host}:{port}/echo"));
            await ClientWebSocketTests.CloseNormallyAsync(ws);
        }
    }
}
