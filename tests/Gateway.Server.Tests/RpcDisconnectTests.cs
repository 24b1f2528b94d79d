using System.Net.Sockets;
using System.Reflection;
using Gateway.Server.Options;
using Gateway.Server.Rpc;
using Gateway.Server.WebSockets;
using Gateway.Tests.Shared;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Server.Tests;

[RpcService("t")]
public sealed class BlockingService
{
    private int _started, _cancelled;
    private readonly TaskCompletionSource _twoCancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _twoStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task TwoCancelled => _twoCancelled.Task;
    public Task TwoStarted => _twoStarted.Task;
    public int Started => Volatile.Read(ref _started);

    /// <summary>Runs until its token fires, then records that it did.</summary>
    [Rpc("block")]
    public async Task<int> Block(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _started) == 2) _twoStarted.TrySetResult();
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }
        finally
        {
            if (Interlocked.Increment(ref _cancelled) == 2) _twoCancelled.TrySetResult();
        }
    }
}

public class RpcDisconnectTests
{
    private static RpcApplication App(BlockingService service, int maxInflight)
    {
        var json = new JsonOptions().ToSerializerOptions();
        var method = typeof(BlockingService).GetMethod(nameof(BlockingService.Block))!;
        var procedure = ProcedureDescriptor.Analyze("test", typeof(BlockingService), "t", method, method.GetCustomAttribute<RpcAttribute>()!, json).Bind(service, json);
        return new RpcApplication([procedure], json, maxInflight, maxBadMessages: 10, NullLogger.Instance);
    }

    // A client at its in-flight limit, with more requests waiting behind it (the read loop is parked waiting for a
    // slot), vanishes with a reset: its running handlers must still be cancelled and the connection released.
    [Fact]
    public async Task Handlers_are_cancelled_when_a_client_at_its_inflight_limit_disconnects()
    {
        var service = new BlockingService();
        await using var gw = await TestGateway.StartAsync(routes: new Dictionary<string, IWebSocketApplication> { ["/ws"] = App(service, maxInflight: 2) });
        var client = await RawClient.OpenAsync(gw.EndPoint, "/ws");
        for (int i = 1; i <= 4; i++) await client.SendTextAsync($"{{\"id\":{i},\"path\":\"t/block\"}}");
        await service.TwoStarted.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, service.Started); // the limit holds: the 3rd and 4th wait, unread

        client.Socket.LingerState = new LingerOption(true, 0); // close with RST, like a crashed client
        await client.DisposeAsync();

        await service.TwoCancelled.WaitAsync(TimeSpan.FromSeconds(10));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (gw.Server.ConnectionCount != 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(0, gw.Server.ConnectionCount);
        // The two requests that waited for a slot are never started for a client that is gone.
        Assert.Equal(2, service.Started);
    }
}
