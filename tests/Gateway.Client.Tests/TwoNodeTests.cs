using System.Text.Json;
using Gateway.Backplane.Redis.Tests.Infrastructure;
using Gateway.Client;
using Xunit.Abstractions;

namespace Gateway.Client.Tests;

/// <summary>Two gateway nodes on a real redis-server: the client follows a node's death to the other and keeps its topic.</summary>
public sealed class TwoNodeTests(ITestOutputHelper output) : IAsyncLifetime
{
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.CreateAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task SubscribedOnOneNode_PublishedOnTheOther_FirstNodeKilled_ClientLandsOnTheSecondAndKeepsReceiving()
    {
        await using var nodes = new GatewayNodes(_redis, output);
        var a = await nodes.StartAsync("a", ClientTestKit.Overrides());
        var b = await nodes.StartAsync("b", ClientTestKit.Overrides());
        await using var client = ClientTestKit.Client(a.Uri, o => o.Uris.Add(b.Uri));
        await client.ConnectAsync();
        var inbox = new Inbox<TopicEvent<Data>>();
        await using var subscription = await client.SubscribeAsync<Data>("room:cluster", inbox.Add);
        await using var publisher = await ClientTestKit.ConnectAsync(b.Uri);

        await publisher.CallAsync<JsonElement>("push/publish", new { topic = "room:cluster", @event = "e", data = new { text = "1" } });
        await inbox.WaitForAsync(1, "the event published on node b");

        var connected = client.WhenState(GatewayClientState.Connected);
        await nodes.StopAsync(a);
        await connected.Within("reconnected to node b");
        Assert.Equal(b.Uri, client.ConnectedUri);
        await publisher.CallAsync<JsonElement>("push/publish", new { topic = "room:cluster", @event = "e", data = new { text = "2" } });
        await inbox.WaitForAsync(2, "the event published after node a died");
        Assert.Equal(["1", "2"], inbox.Items.Select(e => e.Data!.Text));
    }
}
