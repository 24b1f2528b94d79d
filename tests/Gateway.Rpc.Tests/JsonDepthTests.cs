using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests;

/// <summary>
/// Gateway:Json:MaxDepth bounds the nesting of the whole message, the envelope object counting as 1: the envelope
/// parser and the handler's input deserializer both follow it (the envelope parser used to stop at a fixed 64).
/// </summary>
public sealed class JsonDepthTests
{
    /// <summary>An echo/typed request whose input carries an unknown member nested so the whole message is <paramref name="depth"/> deep.</summary>
    private static string Request(int depth)
    {
        // {"id":1,...,"input":{"text":"deep","extra": [[...]] }}: envelope 1, input 2, arrays 3..depth.
        int arrays = depth - 2;
        return "{\"id\":1,\"path\":\"echo/typed\",\"input\":{\"text\":\"deep\",\"extra\":" + new string('[', arrays) + new string(']', arrays) + "}}";
    }

    [Theory]
    [InlineData(100, 100)]
    [InlineData(256, 256)]
    public async Task A_message_as_deep_as_MaxDepth_is_served_above_64(int maxDepth, int depth)
    {
        await using var gateway = await RpcGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Json:MaxDepth"] = maxDepth.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        await using var client = await gateway.ConnectAsync();
        await client.SendTextAsync(Request(depth));
        var reply = await client.NextAsync("1");
        Assert.True(reply["result"] is not null, reply.ToJsonString());
        Assert.Equal("deep", reply["result"].Str("text"));
    }

    [Theory]
    [InlineData(null, 65)]  // the default, 64
    [InlineData("100", 101)]
    [InlineData("10", 11)]
    public async Task A_message_deeper_than_MaxDepth_is_refused(string? maxDepth, int depth)
    {
        await using var gateway = await RpcGateway.StartAsync(maxDepth is null ? null : new Dictionary<string, string?> { ["Gateway:Json:MaxDepth"] = maxDepth });
        await using var client = await gateway.ConnectAsync();
        await client.SendTextAsync(Request(depth));
        var reply = await client.NextAsync("1");
        var error = reply.AssertError("INVALID_ARGUMENT", 400);
        Assert.Contains("depth", error.Str("message"));
        await client.PingAsync();
    }
}
