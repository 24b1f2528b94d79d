using System.Collections.Concurrent;
using System.Text.Json;
using Gateway.Backplane.Redis.Tests.Infrastructure;
using Gateway.Client;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Client.Tests;

/// <summary>Losing the connection: stop and restart on the same port, a 1001 drain, a TCP drop; tokens and subscriptions after.</summary>
public sealed class ReconnectTests
{
    private static async Task<RpcGateway> RestartOnAsync(int port) => await RpcGateway.StartAsync(ClientTestKit.OnPort(port));

    [Theory]
    [InlineData(GatewayWireFormat.Json)]
    [InlineData(GatewayWireFormat.MessagePack)]
    public async Task GatewayStoppedAndStartedOnTheSamePort_ClientReconnectsAndResubscribes(GatewayWireFormat format)
    {
        var gateway = await RpcGateway.StartAsync(ClientTestKit.Overrides());
        int port = gateway.Port;
        var states = new ConcurrentQueue<GatewayClientState>();
        await using var client = ClientTestKit.Client(gateway.Uri, o => o.Format = format);
        client.StateChanged += (_, e) => states.Enqueue(e.Current);
        await client.ConnectAsync();
        var inbox = new Inbox<TopicEvent<Data>>();
        await using var subscription = await client.SubscribeAsync<Data>("room:r", inbox.Add);

        var reconnecting = client.WhenState(GatewayClientState.Reconnecting);
        var connected = client.WhenState(GatewayClientState.Connected);
        await gateway.DisposeAsync();
        await reconnecting.Within("Reconnecting after the stop");
        var ex = await Assert.ThrowsAsync<GatewayConnectionLostException>(() => client.CallAsync<int>("test/sync").AsTask());
        Assert.True(ex.Retryable);

        await using var restarted = await RestartOnAsync(port);
        await connected.Within("Connected to the restarted gateway");
        await using var publisher = await ClientTestKit.ConnectAsync(restarted.Uri);
        await publisher.CallAsync<JsonElement>("push/publish", new { topic = "room:r", @event = "e", data = new { text = "after" } });
        await inbox.WaitForAsync(1, "an event of the restored subscription");
        Assert.Equal("after", inbox.Items[0].Data!.Text);
        Assert.Equal([GatewayClientState.Connecting, GatewayClientState.Connected, GatewayClientState.Reconnecting, GatewayClientState.Connected], states);
    }

    [Fact]
    public async Task AccessTokenProvider_IsAskedAgainOnReconnect_AndTheServerSeesTheNewToken()
    {
        var gateway = await RpcGateway.StartAsync(ClientTestKit.Overrides());
        int port = gateway.Port;
        int asked = 0;
        await using var client = ClientTestKit.Client(gateway.Uri, o => o.AccessTokenProvider = _ => new($"token-{Interlocked.Increment(ref asked)}"));
        await client.ConnectAsync();
        Assert.Equal("Bearer token-1", await client.CallAsync<string>("test/headers", new { name = "Authorization" }));

        var connected = client.WhenState(GatewayClientState.Connected);
        await gateway.DisposeAsync();
        await using var restarted = await RestartOnAsync(port);
        await connected.Within("reconnected");
        string? header = await client.CallAsync<string>("test/headers", new { name = "Authorization" });
        Assert.Equal($"Bearer token-{Volatile.Read(ref asked)}", header);
        Assert.True(asked >= 2);
    }

    [Fact]
    public async Task Drain1001_ReconnectsAtOnce_ToTheNextEndpoint()
    {
        await using var a = await RpcGateway.StartAsync(ClientTestKit.Overrides());
        await using var b = await RpcGateway.StartAsync(ClientTestKit.Overrides());
        // A first backoff far longer than the test's wait: only the immediate attempt after a 1001 can reconnect in time.
        await using var client = new GatewayClient(new GatewayClientOptions
        {
            Uris = { a.Uri, b.Uri },
            Reconnect = { InitialDelay = TimeSpan.FromMinutes(5), MaxDelay = TimeSpan.FromMinutes(5) },
        });
        await client.ConnectAsync();
        Assert.Equal(a.Uri, client.ConnectedUri);
        var connected = client.WhenState(GatewayClientState.Connected);
        await a.Server.StopAsync(); // drain, then 1001 to every connection
        await connected.Within("reconnected at once after the 1001", TimeSpan.FromSeconds(10));
        Assert.Equal(b.Uri, client.ConnectedUri);
        Assert.Equal(42, await client.CallAsync<int>("test/sync"));
    }

    [Theory]
    [InlineData(GatewayWireFormat.Json)]
    [InlineData(GatewayWireFormat.MessagePack)]
    public async Task TcpDrop_InFlightCallFailsAsConnectionLost_ThenReconnectsAndResubscribes(GatewayWireFormat format)
    {
        await using var gateway = await RpcGateway.StartAsync(ClientTestKit.Overrides());
        await using var partition = new TcpPartition(gateway.Port);
        await using var client = await ClientTestKit.ConnectAsync(new Uri($"ws://127.0.0.1:{partition.Port}/ws"), o => o.Format = format);
        var inbox = new Inbox<TopicEvent<Data>>();
        await using var subscription = await client.SubscribeAsync<Data>("room:tcp", inbox.Add);
        string key = Guid.NewGuid().ToString("N");
        var inFlight = client.CallAsync<string>("test/wait", new { key }).AsTask();
        Assert.True(await client.CallAsync<bool>("test/wasStarted", new { key, timeoutMs = 5000 }));

        var reconnecting = client.WhenState(GatewayClientState.Reconnecting);
        var connected = client.WhenState(GatewayClientState.Connected);
        partition.Cut();
        var lost = await Assert.ThrowsAsync<GatewayConnectionLostException>(() => inFlight).Within("the in-flight call's failure");
        Assert.True(lost.Retryable);
        Assert.Equal(RpcErrorCodes.Unavailable, lost.Code);
        await reconnecting.Within("Reconnecting");
        await partition.RestoreAsync();
        await connected.Within("reconnected through the restored forwarder");

        await client.CallAsync<JsonElement>("push/publish", new { topic = "room:tcp", @event = "e", data = new { text = "back" } });
        await inbox.WaitForAsync(1, "an event after the drop");
        // The call was never sent again: the server saw exactly one test/wait with that key.
        Assert.Single(await client.CallAsync<string[]>("test/startedKeys"), k => k == key);
    }

    [Fact]
    public async Task ReconnectDisabled_ClosesOnLoss()
    {
        var gateway = await RpcGateway.StartAsync(ClientTestKit.Overrides());
        await using var client = await ClientTestKit.ConnectAsync(gateway.Uri, o => o.Reconnect.Enabled = false);
        var closed = client.WhenState(GatewayClientState.Closed);
        await gateway.DisposeAsync();
        await closed.Within("Closed");
    }

    [Fact]
    public void Backoff_GrowsWithJitterUpToTheCap()
    {
        var options = new ReconnectOptions { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1), Multiplier = 2 };
        for (int i = 0; i < 200; i++)
        {
            var d0 = GatewayClient.Backoff(0, options);
            Assert.InRange(d0.TotalMilliseconds, 50, 100);
            var d2 = GatewayClient.Backoff(2, options);
            Assert.InRange(d2.TotalMilliseconds, 200, 400);
            var d10 = GatewayClient.Backoff(10, options);
            Assert.InRange(d10.TotalMilliseconds, 500, 1000);
        }
        var distinct = Enumerable.Range(0, 50).Select(_ => GatewayClient.Backoff(3, options)).Distinct().Count();
        Assert.True(distinct > 10, "no jitter");
    }
}
