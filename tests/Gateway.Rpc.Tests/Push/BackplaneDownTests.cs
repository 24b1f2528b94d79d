using Gateway.Rpc.Tests.Infrastructure;
using Gateway.Backplane;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Rpc.Tests.Push;

/// <summary>
/// With the backplane down, a publish, a user event or a broadcast still reaches this node's connections, and the
/// caller is told UNAVAILABLE (never a silent success); an event to a connection of another node is UNAVAILABLE too.
/// Once it is back, everything succeeds again.
/// </summary>
public sealed class BackplaneDownTests : IAsyncLifetime
{
    private GatedBackplane _backplane = null!;
    private RpcGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _backplane = new GatedBackplane(new InMemoryBackplane(new InMemoryBus()));
        var folder = new PluginFolder(Plugins.Standard);
        _gateway = await RpcGateway.StartAsync(folder, RpcGateway.Settings(folder.PluginsPath, PushKit.Settings()),
            before: s => s.AddSingleton<IBackplane>(_backplane));
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task LocalDeliveryHappens_AndTheCallerIsToldUnavailable()
    {
        string topic = PushKit.Room(), user = PushKit.Unique("u-");
        await using var subscriber = await _gateway.ConnectAsync();
        await using var sender = await _gateway.ConnectAsync();
        await subscriber.SubscribeAsync(topic);
        await subscriber.SetUserAsync(user);
        long errorsBefore = _gateway.Metrics().BackplaneErrors;

        _backplane.Down = true;
        var publish = (await sender.CallAsync("push/publish", new { topic, @event = "test.event", data = 1 })).AssertError("UNAVAILABLE", 503);
        Assert.True(publish.Bool("retryable"));
        await subscriber.ExpectEventAsync("test.event", topic, 1);

        (await sender.CallAsync("push/toUser", new { userId = user, @event = "test.user", data = 2 })).AssertError("UNAVAILABLE", 503);
        await subscriber.ExpectEventAsync("test.user", null, 2);

        (await sender.CallAsync("push/broadcast", new { @event = "test.all", data = 3 })).AssertError("UNAVAILABLE", 503);
        await subscriber.ExpectEventAsync("test.all", null, 3);
        await sender.ExpectEventAsync("test.all", null, 3);

        (await sender.CallAsync("push/toConnection", new { connectionId = "othernode.1", @event = "e", data = 4 })).AssertError("UNAVAILABLE", 503);
        (await sender.CallAsync("push/call", new { connectionId = "othernode.1" })).AssertError("UNAVAILABLE", 503);
        // A connection of this node needs no backplane.
        Assert.True(await sender.BoolAsync("push/toConnection", new { connectionId = await subscriber.IdAsync(), @event = "e", data = 5 }));
        await subscriber.ExpectEventAsync("e", null, 5);
        Assert.True(_gateway.Metrics().BackplaneErrors > errorsBefore);
        await subscriber.AssertNothingPushedAsync();

        _backplane.Down = false;
        await sender.PublishAsync(topic, 6);
        await subscriber.ExpectEventAsync("test.event", topic, 6);
        Assert.True(await sender.BoolAsync("push/toUser", new { userId = user, @event = "test.user", data = 7 }));
        await subscriber.ExpectEventAsync("test.user", null, 7);
    }
}
