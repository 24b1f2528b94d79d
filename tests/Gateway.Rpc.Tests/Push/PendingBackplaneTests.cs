using Gateway.Rpc.Tests.Infrastructure;
using Gateway.Backplane;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Rpc.Tests.Push;

/// <summary>
/// A subscribe (or SetUserIdAsync) completes only once the backplane has the subscription (the user registration), so
/// that events from other nodes reach the connection from then on. That must hold for every caller, not just the
/// first: a second subscriber of a topic (or a repeated subscribe, or a second connection of a user) that arrives while
/// the node's backplane call for that key is still in flight must wait for it too. Node A's backplane is gated.
/// Regression tests for a bug the suite found (fixed in the server).
/// </summary>
public sealed class PendingBackplaneTests : IAsyncLifetime
{
    private readonly InMemoryBus _bus = new();
    private GatedBackplane _gated = null!;
    private RpcGateway _a = null!, _b = null!;

    public async Task InitializeAsync()
    {
        _gated = new GatedBackplane(new InMemoryBackplane(_bus));
        var folder = new PluginFolder(Plugins.Standard);
        _a = await RpcGateway.StartAsync(folder, RpcGateway.Settings(folder.PluginsPath, PushKit.Settings()),
            before: s => s.AddSingleton<IBackplane>(_gated));
        _b = await PushKit.StartNodeAsync(_bus);
    }

    public async Task DisposeAsync()
    {
        await _b.DisposeAsync();
        await _a.DisposeAsync();
    }

    [Fact]
    public async Task EverySubscribeOfATopic_IsAnsweredOnlyOnceTheBackplaneHasIt()
    {
        string topic = PushKit.Room();
        var gate = _gated.HoldSubscribe(topic);
        await using var first = await _a.ConnectAsync();
        await using var second = await _a.ConnectAsync();
        await using var pubB = await _b.ConnectAsync();

        string k1 = await first.SendRequestAsync("$subscribe", new { topic });
        await gate.Entered.WaitAsync(RpcClient.DefaultTimeout);
        string k2 = await second.SendRequestAsync("$subscribe", new { topic });
        string k1Again = await first.SendRequestAsync("$subscribe", new { topic });
        string k3 = await second.SendRequestAsync("push/subscribe", new { topic = topic }); // server-side, same rule

        // Pings sent after them come back first: nobody has been told "subscribed" while node B's events cannot reach A yet.
        await first.PingAsync();
        await second.PingAsync();
        Assert.Empty(first.ReceivedFor(k1));
        Assert.Empty(first.ReceivedFor(k1Again));
        Assert.True(second.ReceivedFor(k2).Count == 0, "a second subscriber was answered before the backplane had the topic");
        Assert.Empty(second.ReceivedFor(k3));

        gate.Open();
        foreach (var (client, key) in new[] { (first, k1), (first, k1Again), (second, k2) })
            Assert.True((await client.NextAsync(key))["result"].Bool("subscribed"));
        Assert.Equal(true, (await second.NextAsync(k3))["result"]?.GetValue<bool>());

        // Answered means reachable: a publish from B right away reaches both, once each.
        await pubB.PublishAsync(topic, "from B");
        await first.ExpectEventAsync("test.event", topic, "from B");
        await second.ExpectEventAsync("test.event", topic, "from B");
        await pubB.PublishAsync(topic, "barrier");
        await first.ExpectEventAsync("test.event", topic, "barrier");
        await second.ExpectEventAsync("test.event", topic, "barrier");
        await first.AssertNothingPushedAsync();
        await second.AssertNothingPushedAsync();
    }

    [Fact]
    public async Task EverySetUserIdAsync_CompletesOnlyOnceTheBackplaneHasTheUser()
    {
        string user = PushKit.Unique("slow-user-");
        var gate = _gated.HoldAddUser(user);
        await using var first = await _a.ConnectAsync();
        await using var second = await _a.ConnectAsync();
        await using var third = await _a.ConnectAsync();
        await using var senderB = await _b.ConnectAsync();

        string k1 = await first.SendRequestAsync("push/setUser", new { userId = user });
        await gate.Entered.WaitAsync(RpcClient.DefaultTimeout);
        string k2 = await second.SendRequestAsync("push/setUser", new { userId = user });
        // The setter answers at once (it registers in the background, as documented)...
        Assert.Equal(user, (await third.ResultAsync("push/setUserNow", new { userId = user }))?.GetValue<string>());
        // ...but awaiting SetUserIdAsync for the same user afterwards must still wait for the registration.
        string k3 = await third.SendRequestAsync("push/setUser", new { userId = user });

        await first.PingAsync();
        await second.PingAsync();
        await third.PingAsync();
        Assert.Empty(first.ReceivedFor(k1));
        Assert.True(second.ReceivedFor(k2).Count == 0, "a second connection's SetUserIdAsync completed before the backplane had the user");
        Assert.True(third.ReceivedFor(k3).Count == 0, "SetUserIdAsync after the setter completed before the backplane had the user");

        gate.Open();
        foreach (var (client, key) in new[] { (first, k1), (second, k2), (third, k3) })
            Assert.Equal(user, (await client.NextAsync(key))["result"]?.GetValue<string>());

        Assert.True(await senderB.BoolAsync("push/toUser", new { userId = user, @event = "test.user", data = "from B" }));
        foreach (var c in new[] { first, second, third }) await c.ExpectEventAsync("test.user", null, "from B");
    }
}
