using System.Text.Json;
using Gateway.Client;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Client.Tests;

/// <summary>Topic subscriptions, events by name and calls from the server, against a real gateway.</summary>
public abstract class PushTests(GatewayWireFormat format) : IAsyncLifetime
{
    private RpcGateway _gateway = null!;
    private GatewayClient _client = null!;

    /// <summary>The client settings of this run: its wire format, then the test's own.</summary>
    private Action<GatewayClientOptions> With(Action<GatewayClientOptions>? more = null) => o =>
    {
        o.Format = format;
        more?.Invoke(o);
    };

    public async Task InitializeAsync()
    {
        _gateway = await RpcGateway.StartAsync(ClientTestKit.Overrides());
        _client = await ClientTestKit.ConnectAsync(_gateway.Uri, With());
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task Subscribe_DeliversTheTopicsEvents_UntilDisposed()
    {
        var inbox = new Inbox<TopicEvent<Data>>();
        var subscription = await _client.SubscribeAsync<Data>("room:a", inbox.Add);
        await _client.CallAsync<JsonElement>("push/publish", new { topic = "room:a", @event = "chat.message", data = new { text = "one" } });
        await inbox.WaitForAsync(1, "the first event");
        var first = inbox.Items[0];
        Assert.Equal(("room:a", "chat.message", "one"), (first.Topic, first.Event, first.Data!.Text));

        await subscription.DisposeAsync();
        // One node: a publish fans out to local subscribers before its own answer is written, so an event still
        // delivered would have arrived before this call returned.
        await _client.CallAsync<JsonElement>("push/publish", new { topic = "room:a", @event = "chat.message", data = new { text = "two" } });
        await _client.CallAsync<int>("test/sync");
        Assert.Single(inbox.Items);
    }

    [Fact]
    public async Task Subscribe_TwoHandlersOfOneTopic_BothReceive_OneLeavingKeepsTheOther()
    {
        var a = new Inbox<TopicEvent<Data>>();
        var b = new Inbox<TopicEvent<Data>>();
        var subA = await _client.SubscribeAsync<Data>("room:two", a.Add);
        await using var subB = await _client.SubscribeAsync<Data>("room:two", b.Add);
        await _client.CallAsync<JsonElement>("push/publish", new { topic = "room:two", @event = "e", data = new { text = "1" } });
        await a.WaitForAsync(1, "handler a");
        await b.WaitForAsync(1, "handler b");
        await subA.DisposeAsync();
        await _client.CallAsync<JsonElement>("push/publish", new { topic = "room:two", @event = "e", data = new { text = "2" } });
        await b.WaitForAsync(2, "handler b after a left");
        Assert.Single(a.Items);
    }

    [Fact]
    public async Task Subscribe_ATopicNotOpenToClients_IsPermissionDenied()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await _client.SubscribeAsync<Data>("room:forbidden", _ => { }));
        Assert.Equal(RpcErrorCodes.PermissionDenied, ex.Code);
        Assert.Equal(403, ex.Status);
    }

    [Fact]
    public async Task On_ReceivesEventsByName_DirectAndBroadcast()
    {
        var inbox = new Inbox<Data?>();
        using var handler = _client.On<Data>("test.direct", inbox.Add);
        string me = await _client.CallAsync<string>("push/whoami");
        await _client.CallAsync<bool>("push/toConnection", new { connectionId = me, @event = "test.direct", data = new { text = "to me" } });
        await _client.CallAsync<JsonElement>("push/broadcast", new { @event = "test.direct", data = new { text = "to all" } });
        await inbox.WaitForAsync(2, "direct and broadcast events");
        Assert.Equal(["to me", "to all"], inbox.Items.Select(d => d!.Text).Order().Reverse());
    }

    [Fact]
    public async Task ServerCall_HandlerResultIsTheAnswer()
    {
        using var _ = _client.Handle<JsonElement, JsonElement>("client/echo", (input, ct) => new(input));
        var answer = await _client.CallAsync<JsonElement>("echo/callback", new { x = 1 });
        Assert.Equal(1, answer.GetProperty("x").GetInt32());
    }

    [Fact]
    public async Task ServerCall_RpcExceptionIsTheErrorAnswer()
    {
        using var _ = _client.Handle<JsonElement, int>("client/echo", (input, ct) =>
            throw new RpcException(RpcErrorCodes.FailedPrecondition, "not now", retryable: true));
        var ex = await Assert.ThrowsAsync<RpcException>(() => _client.CallAsync<JsonElement>("echo/callback", new { x = 1 }).AsTask());
        Assert.Equal(RpcErrorCodes.FailedPrecondition, ex.Code);
        Assert.Equal("not now", ex.Message);
        Assert.True(ex.Retryable);
    }

    [Fact]
    public async Task ServerCall_WithoutHandler_IsNotFound()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _client.CallAsync<JsonElement>("push/call", new { path = "client/none" }).AsTask());
        Assert.Equal(RpcErrorCodes.NotFound, ex.Code);
    }

    [Fact]
    public async Task ServerCall_ServersCancel_FiresTheHandlersToken()
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var _ = _client.Handle<JsonElement, int>("client/slow", async (input, ct) =>
        {
            using var registration = ct.Register(() => cancelled.TrySetResult());
            await Task.Delay(Timeout.Infinite, ct);
            return 0;
        });
        var ex = await Assert.ThrowsAsync<RpcException>(() => _client.CallAsync<JsonElement>("push/call", new { path = "client/slow", timeoutMs = 300 }).AsTask());
        Assert.Equal(RpcErrorCodes.DeadlineExceeded, ex.Code);
        await cancelled.Task.Within("the handler's token after the server's cancel");
    }
}

/// <summary><see cref="PushTests"/> over <c>gateway.v1.json</c>.</summary>
public sealed class PushTestsJson() : PushTests(GatewayWireFormat.Json);

/// <summary><see cref="PushTests"/> over <c>gateway.v1.msgpack</c>: the same typed calls, binary frames.</summary>
public sealed class PushTestsMessagePack() : PushTests(GatewayWireFormat.MessagePack);
