using System.Net.WebSockets;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests;

/// <summary>Gateway:Limits:MaxBadMessages invalid envelopes in a row close the connection with 1008.</summary>
public sealed class BadMessageLimitTests : IAsyncLifetime
{
    private RpcGateway _gateway = null!;

    public async Task InitializeAsync() =>
        _gateway = await RpcGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Limits:MaxBadMessages"] = "3" });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task ThreeInvalidEnvelopesInARow_Close1008()
    {
        await using var client = await _gateway.ConnectAsync();
        await client.SendTextAsync("not json");
        await client.SendTextAsync("""{"id":2,"path":5}""");
        await client.SendTextAsync("[]");
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.WaitEndedAsync());
        // Each of the three got its error first.
        var errors = client.Received.Where(m => m.IsError()).ToList();
        Assert.Equal(3, errors.Count);
        Assert.All(errors, e => e.AssertError("INVALID_ARGUMENT", 400));
    }

    [Fact]
    public async Task AValidMessageInBetween_ResetsTheCount()
    {
        await using var client = await _gateway.ConnectAsync();
        await client.SendTextAsync("bad 1");
        await client.SendTextAsync("bad 2");
        await client.PingAsync(); // resets
        await client.SendTextAsync("bad 1 again");
        await client.SendTextAsync("bad 2 again");
        await client.SendRequestAsync("echo/echo", new { text = "valid" }); // a request, even a failing one, is a valid envelope
        await client.SendTextAsync("bad 1 once more");
        await client.SendTextAsync("bad 2 once more");
        await client.PingAsync();
        Assert.Equal(WebSocketState.Open, client.Socket.State);
        Assert.Equal(6, client.Received.Count(m => m.IsError()));

        // Cancels and replies are valid envelopes too.
        await client.SendTextAsync("x");
        await client.SendTextAsync("y");
        await client.SendTextAsync("""{"id":"none","cancel":true}""");
        await client.SendTextAsync("x");
        await client.SendTextAsync("y");
        await client.PingAsync();

        await client.SendTextAsync("bad 3");
        await client.SendTextAsync("bad 4");
        await client.SendTextAsync("bad 5");
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.WaitEndedAsync());
    }

    [Fact]
    public async Task ABinaryFrame_EndsTheConnectionAtOnce_With1003()
    {
        // Not one bad message among MaxBadMessages: the client speaks another format than it negotiated.
        await using var client = await _gateway.ConnectAsync();
        await client.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary);
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, await client.WaitEndedAsync());
    }

    [Fact]
    public async Task BadInputIsNotABadEnvelope()
    {
        // An envelope that parses but whose input does not fit the handler is answered and does not count.
        await using var client = await _gateway.ConnectAsync();
        for (int i = 0; i < 5; i++)
        {
            var reply = await client.CallAsync("echo/typed", new { number = "x" });
            reply.AssertError("INVALID_ARGUMENT", 400);
        }
        for (int i = 0; i < 5; i++)
        {
            var reply = await client.CallAsync("nope/nothing");
            reply.AssertError("NOT_FOUND", 404);
        }
        await client.PingAsync();
    }
}
