using System.Text.Json;
using Gateway.Client;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Client.Tests;

/// <summary>Requests, notifications, streams, progress, timeouts, cancellation and errors against a real gateway.</summary>
public abstract class CallTests(GatewayWireFormat format) : IAsyncLifetime
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

    private static string Key() => Guid.NewGuid().ToString("N");

    [Fact]
    public async Task Call_TypedInputAndResult()
    {
        var reply = await _client.CallAsync<Msg>("echo/typed", new Msg { Text = "hi", Number = 7 });
        Assert.Equal("hi", reply.Text);
        Assert.Equal(7, reply.Number);
        Assert.Equal(42, await _client.CallAsync<int>("test/int", 21));
        Assert.Equal(42, await _client.CallAsync<int>("test/sync"));
        Assert.Equal("(no input)", await _client.CallAsync<string>("test/optional"));
        var swapped = await _client.CallAsync<JsonElement>("test/record", new { x = 1, y = 2 });
        Assert.Equal(2, swapped.GetProperty("x").GetInt32());
    }

    [Fact]
    public async Task Call_BytesAndTimes_RoundTripThroughTheSampleBlobService()
    {
        var data = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        // Sub-millisecond ticks: both the timestamp extension and ISO 8601 keep them (a lossy mapping would not).
        var at = new DateTime(2026, 12, 6, 7, 8, 9, DateTimeKind.Utc).AddTicks(1234567);
        var echoed = await _client.CallAsync<ClientBlob>("blob/echo", new ClientBlob { Data = data, At = at, Name = "n" });
        Assert.Equal(data, echoed.Data);
        Assert.Equal(at, echoed.At!.Value.ToUniversalTime());
        Assert.Equal("n", echoed.Name);

        var big = System.Security.Cryptography.RandomNumberGenerator.GetBytes(200_000);
        long before = _client.BytesSent;
        var info = await _client.CallAsync<ClientBlobInfo>("blob/info", new ClientBlob { Data = big });
        long sent = _client.BytesSent - before;
        Assert.Equal(big.Length, info.Length);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(big)), info.Sha256);
        // bin costs the bytes themselves; JSON's base64 a third more: the request really went in the chosen encoding.
        if (format == GatewayWireFormat.MessagePack) Assert.InRange(sent, big.Length, big.Length + 100);
        else Assert.True(sent > big.Length * 4 / 3, $"{sent} bytes sent");
    }

    [Fact]
    public async Task Call_ManyConcurrent_EachGetsItsOwnAnswer()
    {
        var calls = Enumerable.Range(0, 200).Select(i => _client.CallAsync<int>("test/int", i).AsTask()).ToArray();
        var results = await Task.WhenAll(calls).Within("200 concurrent calls");
        for (int i = 0; i < results.Length; i++) Assert.Equal(2 * i, results[i]);
    }

    [Fact]
    public async Task Call_VoidProcedure_ReturnsNull()
    {
        string key = Key();
        Assert.Null(await _client.CallAsync<string>("test/void", new { key }));
        Assert.Contains("void:" + key, await _client.CallAsync<string[]>("test/events"));
    }

    [Fact]
    public async Task Notify_RunsTheProcedureWithoutAnAnswer()
    {
        string key = Key();
        await _client.NotifyAsync("test/void", new { key });
        // Requests of a connection start in arrival order, and test/void runs on the read loop: it ran before this one.
        Assert.Contains("void:" + key, await _client.CallAsync<string[]>("test/events"));
    }

    [Fact]
    public async Task Stream_YieldsEveryItemThenEnds()
    {
        var items = new List<int>();
        await foreach (var tick in _client.StreamAsync<Tick>("echo/count", new { n = 5, delayMs = 1 })) items.Add(tick.I);
        Assert.Equal([0, 1, 2, 3, 4], items);
    }

    [Fact]
    public async Task Stream_BreakingOutOfTheLoop_CancelsOnTheServer()
    {
        string key = Key();
        int seen = 0;
        await foreach (var i in _client.StreamAsync<int>("test/ticks", new { key, delayMs = 5 }))
        {
            if (++seen == 3) break;
        }
        Assert.True(await _client.CallAsync<bool>("test/wasCancelled", new { key, timeoutMs = 5000 }), "the handler's token did not fire");
    }

    [Fact]
    public async Task Stream_CancellationToken_CancelsOnTheServer()
    {
        string key = Key();
        using var cts = new CancellationTokenSource();
        var seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var i in _client.StreamAsync<int>("test/ticks", new { key, delayMs = 5 }).WithCancellation(cts.Token))
            {
                if (++seen == 2) cts.Cancel();
            }
        });
        Assert.True(await _client.CallAsync<bool>("test/wasCancelled", new { key, timeoutMs = 5000 }));
    }

    [Fact]
    public async Task Stream_AReaderThatFallsBehind_FailsResourceExhaustedAndCancelsOnTheServer()
    {
        await using var client = await ClientTestKit.ConnectAsync(_gateway.Uri, With(o => o.MaxBufferedStreamItems = 3));
        string key = Key();
        await using var items = client.StreamAsync<int>("test/ticks", new { key, delayMs = 1 }).GetAsyncEnumerator();
        Assert.True(await items.MoveNextAsync());
        // Not reading: past 3 buffered items the client cancels the stream on the wire.
        Assert.True(await client.CallAsync<bool>("test/wasCancelled", new { key, timeoutMs = 10000 }), "the stream was not cancelled");
        var drained = new List<int>();
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await items.MoveNextAsync()) drained.Add(items.Current);
        });
        Assert.Equal(RpcErrorCodes.ResourceExhausted, ex.Code);
        // What was buffered before the overflow, in order (3, less one when the next items came before the first was taken).
        Assert.InRange(drained.Count, 2, 3);
        Assert.Equal(Enumerable.Range(1, drained.Count), drained);
    }

    [Fact]
    public async Task Stream_ServerError_IsThrownFromTheLoop()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in _client.StreamAsync<Tick>("echo/count", new { n = -1 })) { }
        });
        Assert.Equal(RpcErrorCodes.InvalidArgument, ex.Code);
    }

    [Fact]
    public async Task Call_Cancelled_SendsCancelAndThrows()
    {
        string key = Key();
        using var cts = new CancellationTokenSource();
        var call = _client.CallAsync<string>("test/wait", new { key }, cts.Token).AsTask();
        Assert.True(await _client.CallAsync<bool>("test/wasStarted", new { key, timeoutMs = 5000 }));
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.True(await _client.CallAsync<bool>("test/wasCancelled", new { key, timeoutMs = 5000 }), "the handler's token did not fire");
    }

    [Fact]
    public async Task Call_Timeout_CancelsOnTheWireAtTheDeadline()
    {
        string key = Key();
        var started = System.Diagnostics.Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _client.CallAsync<string>("test/wait", new { key }, new CallOptions { Timeout = TimeSpan.FromMilliseconds(300) }).AsTask());
        Assert.True(started.ElapsedMilliseconds >= 290, $"failed after {started.ElapsedMilliseconds} ms");
        Assert.Equal(RpcErrorCodes.DeadlineExceeded, ex.Code);
        Assert.True(ex.Retryable);
        Assert.True(await _client.CallAsync<bool>("test/wasCancelled", new { key, timeoutMs = 5000 }), "the handler's token did not fire");
    }

    [Fact]
    public async Task Call_DefaultTimeoutFromOptions()
    {
        await using var client = await ClientTestKit.ConnectAsync(_gateway.Uri, With(o => o.DefaultCallTimeout = TimeSpan.FromMilliseconds(200)));
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.CallAsync<string>("test/wait", new { key = Key() }).AsTask());
        Assert.Equal(RpcErrorCodes.DeadlineExceeded, ex.Code);
        Assert.Equal(42, await client.CallAsync<int>("test/sync")); // the pooled call object is fine for the next call
    }

    [Fact]
    public async Task Call_Progress_ReachesTheCallersIProgress()
    {
        var progress = new RecordingProgress<SlowProgress>();
        var result = await _client.CallAsync<JsonElement, SlowProgress>("echo/slow", new { delayMs = 350 }, progress);
        Assert.Equal(350, result.GetProperty("delayMs").GetInt32());
        // One report per 100 ms timer tick of the handler: at least one however slow the machine, all before the result
        // (reported on the receive loop ahead of the answer), in order.
        var elapsed = progress.Received.Items.Select(p => p.ElapsedMs).ToList();
        Assert.NotEmpty(elapsed);
        Assert.All(elapsed, ms => Assert.True(ms > 0));
        Assert.Equal(elapsed.Order(), elapsed);
    }

    [Fact]
    public async Task Errors_CarryCodeStatusRetryableRetryAfterAndDetails()
    {
        var notFound = await Assert.ThrowsAsync<RpcException>(() => _client.CallAsync<Msg>("echo/fail", new { code = "NOT_FOUND", message = "nope" }).AsTask());
        Assert.Equal(RpcErrorCodes.NotFound, notFound.Code);
        Assert.Equal(404, notFound.Status);
        Assert.Equal("nope", notFound.Message);
        Assert.False(notFound.Retryable);
        Assert.Equal("NOT_FOUND", notFound.Details!.Value.GetProperty("requested").GetString());

        var exhausted = await Assert.ThrowsAsync<RpcException>(() => _client.CallAsync<Msg>("echo/fail", new { code = "RESOURCE_EXHAUSTED" }).AsTask());
        Assert.Equal(429, exhausted.Status);
        Assert.True(exhausted.Retryable);
        Assert.Equal(TimeSpan.FromSeconds(1), exhausted.RetryAfter);

        var crash = await Assert.ThrowsAsync<RpcException>(() => _client.CallAsync<Msg>("echo/crash").AsTask());
        Assert.Equal(RpcErrorCodes.Internal, crash.Code);
        Assert.Equal("internal error", crash.Message);

        var unknown = await Assert.ThrowsAsync<RpcException>(() => _client.CallAsync<int>("no/such").AsTask());
        Assert.Equal(RpcErrorCodes.NotFound, unknown.Code);
        Assert.IsNotType<GatewayConnectionLostException>(unknown);
    }

    [Fact]
    public async Task Call_ResultOfTheWrongType_IsAClearError_AndTheConnectionStaysUsable()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _client.CallAsync<int>("test/task").AsTask());
        Assert.Contains("Int32", ex.Message);
        Assert.Equal(42, await _client.CallAsync<int>("test/sync"));
    }

    [Fact]
    public async Task Calls_BeforeConnect_FailAsNotConnected()
    {
        await using var client = ClientTestKit.Client(_gateway.Uri, With());
        var ex = await Assert.ThrowsAsync<GatewayConnectionLostException>(() => client.CallAsync<int>("test/sync").AsTask());
        Assert.True(ex.Retryable);
        Assert.Equal(GatewayClientState.Disconnected, client.State);
    }
}

/// <summary><see cref="CallTests"/> over <c>gateway.v1.json</c>.</summary>
public sealed class CallTestsJson() : CallTests(GatewayWireFormat.Json);

/// <summary><see cref="CallTests"/> over <c>gateway.v1.msgpack</c>: the same typed calls, binary frames.</summary>
public sealed class CallTestsMessagePack() : CallTests(GatewayWireFormat.MessagePack);
