using Gateway.Client;
using Gateway.Rpc.Tests.Infrastructure;
using Greeter.Contracts;

namespace Gateway.Client.Tests;

/// <summary>CreateProxy&lt;IGreeter&gt;() against the sample plugin, which implements the same interface.</summary>
public sealed class ProxyTests : IAsyncLifetime
{
    private RpcGateway _gateway = null!;
    private GatewayClient _client = null!;

    public async Task InitializeAsync()
    {
        _gateway = await RpcGateway.StartAsync(ClientTestKit.Overrides());
        _client = await ClientTestKit.ConnectAsync(_gateway.Uri);
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task Proxy_CallsTheRequest()
    {
        var greeter = _client.CreateProxy<IGreeter>();
        var reply = await greeter.HelloAsync(new HelloRequest("Ada"));
        Assert.Equal("Hello, Ada!", reply.Greeting);
    }

    [Fact]
    public async Task Proxy_StreamsTheSubscription()
    {
        var greeter = _client.CreateProxy<IGreeter>();
        var items = new List<int>();
        await foreach (var n in greeter.CountdownAsync(new CountdownRequest(3, 0))) items.Add(n);
        Assert.Equal([3, 2, 1, 0], items);
    }

    [Fact]
    public async Task Proxy_ServerErrorsAreRpcExceptions()
    {
        var greeter = _client.CreateProxy<IGreeter>();
        var ex = await Assert.ThrowsAsync<RpcException>(() => greeter.HelloAsync(new HelloRequest("")));
        Assert.Equal(RpcErrorCodes.InvalidArgument, ex.Code);
    }

    [Fact]
    public async Task Proxy_CancellationTokenCancelsTheCall()
    {
        var greeter = _client.CreateProxy<IGreeter>();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => greeter.HelloAsync(new HelloRequest("Ada"), cts.Token));
    }

    [Fact]
    public async Task Proxy_ExplicitServiceName()
    {
        var greeter = _client.CreateProxy<IGreeter>("nosuch");
        var ex = await Assert.ThrowsAsync<RpcException>(() => greeter.HelloAsync(new HelloRequest("Ada")));
        Assert.Equal(RpcErrorCodes.NotFound, ex.Code);
        Assert.Contains("nosuch/hello", ex.Message);
    }
}
