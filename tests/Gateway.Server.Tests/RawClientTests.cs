using Gateway.Tests.Shared;

namespace Gateway.Server.Tests;

/// <summary>
/// The shared raw-frame test client's own helpers, against a real gateway: tests of the test tooling, kept out of the
/// RFC 6455 conformance suite so its count is only about the server.
/// </summary>
public class RawClientTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task ReadCloseAsync_reports_the_close_code()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await c.SendAsync(RawClient.CloseFrame(1000, "bye"));
        Assert.Equal(1000, await c.ReadCloseAsync(Timeout));
    }

    [Fact]
    public async Task ReadCloseAsync_reports_an_empty_close_as_0()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await c.SendAsync(RawClient.Frame(8, []));
        Assert.Equal(0, await c.ReadCloseAsync(Timeout));
    }
}
