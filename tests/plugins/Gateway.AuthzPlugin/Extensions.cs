namespace Gateway.AuthzPlugin;

/// <summary>
/// Records "{name}>{path}:{kind}" before next and "{name}<{path}:ok" or "{name}<{path}:{error}" after it. Short-circuits
/// filtered/blocked with FAILED_PRECONDITION (outer only), throws a plain exception for filtered/explode (inner only),
/// and returns without next for filtered/swallow (inner only).
/// </summary>
public sealed class RecordingFilter(string name, Journal journal) : IRpcFilter
{
    public async ValueTask InvokeAsync(RpcFilterContext context, RpcFilterDelegate next)
    {
        string input = context.Input is { } value ? ":" + value : "";
        journal.Add($"{name}>{context.Path}:{context.Kind}{input}");
        if (name == "outer" && context.Path == "filtered/blocked") throw new RpcException(ErrorCode.FailedPrecondition, "blocked by the outer filter");
        if (name == "inner" && context.Path == "filtered/explode") throw new InvalidOperationException("the inner filter fails on purpose");
        if (name == "inner" && context.Path == "filtered/swallow") return;
        try
        {
            await next(context);
            journal.Add($"{name}<{context.Path}:ok");
        }
        catch (RpcException ex)
        {
            journal.Add($"{name}<{context.Path}:{ex.Code}");
            throw;
        }
    }
}

/// <summary>Records "connected:{user}" and "disconnected:{user}:{kind}:{code}" per connection, keyed by connection id.</summary>
public sealed class RecordingHooks(Journal journal) : IConnectionHandler
{
    public ValueTask OnConnectedAsync(ConnectionContext connection)
    {
        connection.Items["hooks.connected"] = true;
        journal.Add($"connected {connection.ConnectionId} {connection.UserId ?? "-"}");
        return default;
    }

    public ValueTask OnDisconnectedAsync(ConnectionContext connection, DisconnectReason reason)
    {
        journal.Add($"disconnected {connection.ConnectionId} {connection.UserId ?? "-"} {reason.Kind} {reason.CloseCode?.ToString() ?? "-"}");
        return default;
    }
}
