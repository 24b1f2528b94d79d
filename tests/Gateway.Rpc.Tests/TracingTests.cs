using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Gateway.Rpc.Tests.Infrastructure;
using Gateway.Rpc.Tests.Push;

namespace Gateway.Rpc.Tests;

using Map = Dictionary<object, object?>;

/// <summary>
/// ActivityListener is process-wide: the tracing tests run alone, so a listener here never leaks spans into other
/// tests and the listener-less test is not disturbed by one elsewhere.
/// </summary>
[CollectionDefinition(nameof(TracingCollection), DisableParallelization = true)]
public sealed class TracingCollection;

/// <summary>
/// The "Gateway" ActivitySource over real sockets: a span per call named after the procedure with its tags, status and
/// the client's meta.traceparent as parent (JSON and MessagePack), current inside the handler (so its own outgoing calls
/// continue the trace); spans for a server-to-client call and a publish; and no Activity at all without a listener.
/// </summary>
[Collection(nameof(TracingCollection))]
public sealed class TracingTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private RpcGateway _gateway = null!;

    public async Task InitializeAsync() => _gateway = await RpcGateway.StartAsync(new Dictionary<string, string?>());
    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    /// <summary>Records every stopped span of the "Gateway" source.</summary>
    private sealed class SpanRecorder : IDisposable
    {
        private readonly ActivityListener _listener;
        private readonly Channel<Activity> _stopped = Channel.CreateUnbounded<Activity>();
        private readonly ConcurrentQueue<Activity> _seen = new();

        public SpanRecorder()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == "Gateway",
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = a => _stopped.Writer.TryWrite(a),
            };
            ActivitySource.AddActivityListener(_listener);
        }

        /// <summary>The first stopped span matching <paramref name="match"/> (bounded in time and count).</summary>
        public async Task<Activity> NextAsync(Func<Activity, bool> match, string what)
        {
            foreach (var a in _seen) if (match(a)) return a;
            using var cts = new CancellationTokenSource(Timeout);
            try
            {
                for (int i = 0; i < 1000; i++)
                {
                    var a = await _stopped.Reader.ReadAsync(cts.Token);
                    _seen.Enqueue(a);
                    if (match(a)) return a;
                }
            }
            catch (OperationCanceledException) { }
            throw new Xunit.Sdk.XunitException($"no span {what} within {Timeout.TotalSeconds} s; seen: " +
                string.Join(", ", _seen.Select(s => $"{s.OperationName} {s.TraceId}/{s.ParentSpanId}")));
        }

        public void Dispose() => _listener.Dispose();
    }

    private static (ActivityTraceId Trace, ActivitySpanId Span, string TraceParent) ClientContext()
    {
        var trace = ActivityTraceId.CreateRandom();
        var span = ActivitySpanId.CreateRandom();
        return (trace, span, $"00-{trace.ToHexString()}-{span.ToHexString()}-01");
    }

    private static object? Tag(Activity a, string name) => a.GetTagItem(name);

    [Theory]
    [InlineData("trace/current")]
    [InlineData("trace/currentAfterYield")]
    public async Task Json_ASpanPerCall_ParentedOnTheClientsTraceparent_CurrentInTheHandler(string path)
    {
        using var spans = new SpanRecorder();
        await using var client = await _gateway.ConnectAsync();
        string connectionId = await client.IdAsync();
        var (trace, parent, traceparent) = ClientContext();
        // Unknown members of meta are ignored; tracestate rides along.
        await client.SendTextAsync($$$"""{"id":"t1","path":"{{{path}}}","meta":{"future":{"x":[1]},"traceparent":"{{{traceparent}}}","tracestate":"vendor=abc"}}""");
        var result = (await client.NextAsync(RpcClient.Key("t1")))["result"]!.AsObject();

        var span = await spans.NextAsync(a => a.TraceId == trace && a.OperationName == path, path);
        Assert.Equal(parent, span.ParentSpanId);
        Assert.True(span.HasRemoteParent);
        Assert.Equal("vendor=abc", span.TraceStateString);
        Assert.Equal(ActivityKind.Server, span.Kind);
        Assert.Equal(ActivityStatusCode.Ok, span.Status);
        Assert.Equal("gateway", Tag(span, "rpc.system"));
        Assert.Equal(path, Tag(span, "rpc.method"));
        Assert.Equal("request", Tag(span, "gateway.rpc.kind"));
        Assert.Equal("OK", Tag(span, "gateway.rpc.code"));
        Assert.Equal(connectionId, Tag(span, "gateway.connection.id"));
        // The handler ran under this very span, before and after an await.
        Assert.Equal(trace.ToHexString(), result.Str("traceId"));
        Assert.Equal(span.SpanId.ToHexString(), result.Str("spanId"));
        Assert.Equal(path, result.Str("operationName"));
    }

    [Fact]
    public async Task Json_AFailedCall_HasTheErrorCode_AndAMalformedTraceparentStartsANewTrace()
    {
        using var spans = new SpanRecorder();
        await using var client = await _gateway.ConnectAsync();
        string connectionId = await client.IdAsync();
        await client.SendTextAsync("""{"id":"f1","path":"trace/fail","meta":{"traceparent":"00-not-a-trace-01"}}""");
        (await client.NextAsync(RpcClient.Key("f1"))).AssertError("NOT_FOUND", 404);
        var span = await spans.NextAsync(a => a.OperationName == "trace/fail" && (string?)Tag(a, "gateway.connection.id") == connectionId, "trace/fail");
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal("NOT_FOUND", Tag(span, "gateway.rpc.code"));
        Assert.Equal(default, span.ParentSpanId);

        // A notification (no id) gets its own kind; meta that is not an object is ignored like an unknown member.
        await client.SendTextAsync("""{"path":"trace/current","meta":"junk"}""");
        var note = await spans.NextAsync(a => a.OperationName == "trace/current" && (string?)Tag(a, "gateway.connection.id") == connectionId, "notification");
        Assert.Equal("notification", Tag(note, "gateway.rpc.kind"));
        await client.PingAsync();
    }

    [Fact]
    public async Task MessagePack_TheMetaMapsTraceparentIsTheParent()
    {
        using var spans = new SpanRecorder();
        await using var client = await MsgPackClient.ConnectAsync(_gateway.Uri);
        var (trace, parent, traceparent) = ClientContext();
        await client.SendAsync(new Dictionary<string, object?>
        {
            ["id"] = 5,
            ["path"] = "trace/current",
            ["meta"] = new Dictionary<string, object?> { ["other"] = 1, ["traceparent"] = traceparent },
        });
        var reply = await client.NextAsync(MsgPackClient.Key(5));
        var result = Assert.IsType<Map>(reply["result"]);
        var span = await spans.NextAsync(a => a.TraceId == trace, "from the MessagePack call");
        Assert.Equal("trace/current", span.OperationName);
        Assert.Equal(parent, span.ParentSpanId);
        Assert.Equal(span.SpanId.ToHexString(), result["spanId"]);
        Assert.Equal("OK", Tag(span, "gateway.rpc.code"));
    }

    [Fact]
    public async Task AServerToClientCall_AndAPublish_HaveSpans_UnderTheHandlersSpan()
    {
        using var spans = new SpanRecorder();
        await using var client = await _gateway.ConnectAsync();
        string connectionId = await client.IdAsync();
        var (trace, _, traceparent) = ClientContext();

        await client.SendJsonAsync(new JsonObject
        {
            ["id"] = "c1", ["path"] = "push/call", ["input"] = new JsonObject { ["path"] = "client/echo", ["input"] = "hi" },
            ["meta"] = new JsonObject { ["traceparent"] = traceparent },
        });
        var call = await client.NextServerCallAsync();
        await client.AnswerAsync(call["id"], "hi back");
        Assert.Equal("hi back", (await client.NextAsync(RpcClient.Key("c1"))).Str("result"));
        var outer = await spans.NextAsync(a => a.TraceId == trace && a.OperationName == "push/call", "push/call");
        var server = await spans.NextAsync(a => a.TraceId == trace && a.OperationName == "client/echo", "of the server-to-client call");
        Assert.Equal(outer.SpanId, server.ParentSpanId);
        Assert.Equal(ActivityKind.Client, server.Kind);
        Assert.Equal("server-call", Tag(server, "gateway.rpc.kind"));
        Assert.Equal(connectionId, Tag(server, "gateway.connection.id"));
        Assert.Equal("OK", Tag(server, "gateway.rpc.code"));

        var (trace2, _, traceparent2) = ClientContext();
        await client.SendJsonAsync(new JsonObject
        {
            ["id"] = "p1", ["path"] = "push/publish", ["input"] = new JsonObject { ["topic"] = "room:traced", ["event"] = "room.said" },
            ["meta"] = new JsonObject { ["traceparent"] = traceparent2 },
        });
        await client.NextAsync(RpcClient.Key("p1"));
        var publishCall = await spans.NextAsync(a => a.TraceId == trace2 && a.OperationName == "push/publish", "push/publish");
        var publish = await spans.NextAsync(a => a.TraceId == trace2 && a.OperationName == "publish", "of the publish");
        Assert.Equal(publishCall.SpanId, publish.ParentSpanId);
        Assert.Equal(ActivityKind.Producer, publish.Kind);
        Assert.Equal("room:traced", Tag(publish, "messaging.destination.name"));
        Assert.Equal("room.said", Tag(publish, "gateway.event"));
        Assert.Equal(ActivityStatusCode.Ok, publish.Status);
    }

    [Fact]
    public async Task WithoutAListener_NoActivityExists_EvenWithATraceparent()
    {
        Assert.False(HasGatewayListener(), "a listener of the Gateway source is attached elsewhere in this process");
        await using var client = await _gateway.ConnectAsync();
        var (_, _, traceparent) = ClientContext();
        foreach (var path in new[] { "trace/current", "trace/currentAfterYield" })
        {
            await client.SendTextAsync($$$"""{"id":"n1","path":"{{{path}}}","meta":{"traceparent":"{{{traceparent}}}"}}""");
            var result = (await client.NextAsync(RpcClient.Key("n1")))["result"]!.AsObject();
            Assert.Null(result.Str("traceId"));
            Assert.Null(result.Str("operationName"));
        }

        // The same call with a listener runs under a span: the check above can tell the difference.
        using var spans = new SpanRecorder();
        await client.SendTextAsync("""{"id":"n2","path":"trace/current"}""");
        Assert.NotNull((await client.NextAsync(RpcClient.Key("n2")))["result"]!.AsObject().Str("traceId"));
    }

    private static bool HasGatewayListener()
    {
        using var probe = new ActivitySource("Gateway");
        return probe.HasListeners();
    }
}
