using System.Net;
using System.Net.Sockets;
using Gateway.Tests.Shared;

namespace Gateway.Server.Tests;

/// <summary>
/// A port belongs to one gateway: a second one on the same address stops at startup naming Gateway:Listen instead of
/// sharing the port (SO_REUSEPORT would split the connections between the two), and a gateway restarted on the port of
/// one that just stopped after serving connections binds it again at once.
/// </summary>
public sealed class ListenPortTests
{
    [Fact(Timeout = 60_000)]
    public async Task A_second_gateway_on_a_port_in_use_stops_naming_the_listen_entry()
    {
        await using var first = await TestGateway.StartAsync();
        int port = first.EndPoint.Port;
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using var second = await TestGateway.StartAsync(o => o.Listen = [$"127.0.0.1:{port}"]);
        });
        Assert.Contains("Gateway:Listen", ex.Message);
        Assert.Contains($"127.0.0.1:{port}", ex.Message);
        // The first one still has the port to itself.
        await using var client = await RawClient.OpenAsync(first.EndPoint);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_gateway_restarted_on_the_port_of_one_that_just_stopped_binds_it()
    {
        int port;
        await using (var first = await TestGateway.StartAsync())
        {
            port = first.EndPoint.Port;
            // Connections served and closed: their TCP state may linger on the port (TIME_WAIT).
            for (int i = 0; i < 5; i++)
            {
                await using var c = await RawClient.OpenAsync(first.EndPoint);
            }
        }
        await using var again = await TestGateway.StartAsync(o => o.Listen = [$"127.0.0.1:{port}"]);
        Assert.Equal(port, again.EndPoint.Port);
        await using var client = await RawClient.OpenAsync(again.EndPoint);
    }
}
