using Gateway.Tests.Shared;

namespace Gateway.Conformance.Tests;

public class SmokeTests
{
    [Fact]
    public async Task Echoes_a_text_message_and_completes_the_close_handshake()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var client = await RawClient.OpenAsync(gw.EndPoint);
        await client.SendTextAsync("hello");
        var frame = await client.ReadFrameAsync();
        Assert.Equal(1, frame.Opcode);
        Assert.True(frame.Fin);
        Assert.False(frame.Masked);
        Assert.Equal("hello", frame.Text);
        await client.SendAsync(RawClient.CloseFrame(1000, "bye"));
        Assert.Equal(1000, await client.ReadCloseAsync());
    }
}
