using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Gateway.Tests.Shared;
using static Gateway.Server.Tests.TestHelpers;

namespace Gateway.Server.Tests;

/// <summary>
/// A test that needs IPv6 on the loopback: reported as skipped, with the reason, on a machine without it (a container
/// with IPv6 disabled), instead of passing having run nothing. xunit 2 has no skip decided at run time; a Skip set in
/// the attribute's constructor is read when the tests are discovered, on the machine that runs them.
/// </summary>
public sealed class IPv6FactAttribute : FactAttribute
{
    public IPv6FactAttribute()
    {
        if (!LoopbackAvailable()) Skip = "this machine has no IPv6 loopback (::1 cannot be bound)";
    }

    private static bool LoopbackAvailable()
    {
        if (!Socket.OSSupportsIPv6) return false;
        try
        {
            using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

public class IPv6Tests
{
    [IPv6Fact]
    public async Task Listens_on_IPv6_loopback_and_accepts_a_ClientWebSocket()
    {
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

    [IPv6Fact]
    public async Task Localhost_listens_on_both_loopbacks()
    {
        // Port 0: each loopback gets a port of its own from the OS (never one another process could take first).
        await using var gw = await TestGateway.StartAsync(o => o.Listen = ["localhost:0"]);
        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback], gw.Server.BoundEndPoints.Select(e => e.Address));
        foreach (var endPoint in gw.Server.BoundEndPoints)
        {
            using var ws = await ConnectAsync(new Uri($"ws://{(endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? "[::1]" : "127.0.0.1")}:{endPoint.Port}/echo"));
            await ClientWebSocketTests.CloseNormallyAsync(ws);
        }
    }
}
