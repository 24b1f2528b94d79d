namespace Gateway.Server.Rpc;

/// <summary>
/// What plugins add around the procedures, resolved from DI at startup: authorization policies, call filters and
/// connection handlers, and the $describe visibility rule (Gateway:Auth:DescribeVisibleOnly).
/// </summary>
internal sealed class RpcExtensions
{
    public IReadOnlyList<IRpcAuthorizationPolicy> Policies { get; init; } = [];
    /// <summary>In registration order: the first is outermost.</summary>
    public IReadOnlyList<IRpcFilter> Filters { get; init; } = [];
    /// <summary>In registration order.</summary>
    public IReadOnlyList<IConnectionHandler> ConnectionHandlers { get; init; } = [];
    /// <summary>$describe lists only what the caller may call (policies aside: see docs/protocol.md).</summary>
    public bool DescribeVisibleOnly { get; init; } = true;
}
