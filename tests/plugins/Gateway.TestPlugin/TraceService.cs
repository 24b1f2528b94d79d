using System.Diagnostics;

namespace Gateway.TestPlugin;

/// <summary>What a handler sees of <see cref="Activity.Current"/>: nulls when nothing is current.</summary>
public sealed record TraceView(string? TraceId, string? SpanId, string? OperationName);

/// <summary>
/// For the tracing tests: the span a handler runs under (the one its own Activity-based outgoing calls continue),
/// read synchronously and after an await, and a failing call.
/// </summary>
[RpcService("trace")]
public sealed class TraceService
{
    [Rpc("current")]
    public TraceView Current() => View();

    [Rpc("currentAfterYield")]
    public async Task<TraceView> CurrentAfterYield()
    {
        await Task.Yield();
        return View();
    }

    [Rpc("fail")]
    public string Fail() => throw new RpcException(ErrorCode.NotFound, "nothing here");

    private static TraceView View() =>
        Activity.Current is { } a ? new TraceView(a.TraceId.ToHexString(), a.SpanId.ToHexString(), a.OperationName) : new TraceView(null, null, null);
}
