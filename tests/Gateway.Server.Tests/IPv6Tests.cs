using Gateway.Server.Options;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Gateway.Tests.Shared;
using static Gateway.Server.Tests.TestHelpers;

namespace Gateway.Server.Tests;

/// <summary>
/// Listening on IPv6: on a machine with an IPv6 loopback the gateway serves it; on one without (a container with IPv6
/// disabled) the same configuration gets the answer a user gets there, so each test checks something on every machine.
/// </summary>
public class IPv6Tests
{
    [Fact]
    public async Task Listens_on_IPv6_loopback_and_accepts_a_ClientWebSocket()
    {
        if (!ListenAddress.IPv6LoopbackUsable)
        {
            // No ::1 here: an explicit [::1] entry stops the server at startup, naming the key and the entry.
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestGateway.StartAsync(o => o.Listen = ["[::1]:0"]));
            Assert.Contains("Gateway:Listen '[::1]:0'", error.Message);
            return;
        }
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
    public async Task Localhost_listens_on_every_loopback_the_machine_has()
    {
        // Port 0: each loopback gets a port of its own from the OS (never one another process could take first).
        await using var gw = await TestGateway.StartAsync(o => o.Listen = ["localhost:0"]);
        IPAddress[] expected = ListenAddress.IPv6LoopbackUsable ? [IPAddress.Loopback, IPAddress.IPv6Loopback] : [IPAddress.Loopback];
        Assert.Equal(expected, gw.Server.BoundEndPoints.Select(e => e.Address));
        foreach (var endPoint in gw.Server.BoundEndPoints)
        {
            using var ws = await ConnectAsync(new Uri($"ws://{(endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? "[::1]" : "127.0.0.1")}:{endPoint.Port}/echo"));
            await ClientWebSocketTests.CloseNormallyAsync(ws);
        }
    }
}
