namespace Gateway.AuthzPlugin;

/// <summary>Allows callers whose "tenant" claim is "acme"; answers synchronously.</summary>
public sealed class TenantPolicy : IRpcAuthorizationPolicy
{
    public string Name => "tenant-acme";
    public ValueTask<bool> IsAllowedAsync(RpcContext context) => new(context.User.HasClaim("tenant", "acme"));
}

/// <summary>The same rule answered later (after a yield): the asynchronous path, which holds the read loop.</summary>
public sealed class SlowTenantPolicy : IRpcAuthorizationPolicy
{
    public string Name => "tenant-acme-slow";

    public async ValueTask<bool> IsAllowedAsync(RpcContext context)
    {
        await Task.Delay(20);
        return context.User.HasClaim("tenant", "acme");
    }
}

/// <summary>Fails: with RpcException FAILED_PRECONDITION for tenant "closed", with a plain exception otherwise.</summary>
public sealed class ThrowingPolicy : IRpcAuthorizationPolicy
{
    public string Name => "throws";

    public ValueTask<bool> IsAllowedAsync(RpcContext context) => context.User.HasClaim("tenant", "closed")
        ? throw new RpcException(ErrorCode.FailedPrecondition, "tenant is closed")
        : throw new InvalidOperationException("the policy fails on purpose");
}

/// <summary>$subscribe to staff:* only for connections in role "staff"; it reads the user from the RpcContext.</summary>
public sealed class StaffTopicPolicy : ITopicPolicy
{
    public ValueTask<TopicAccess> CanSubscribeAsync(RpcContext context, string topic)
    {
        if (!topic.StartsWith("staff:", StringComparison.Ordinal)) return new(TopicAccess.Default);
        return new(context.User.IsInRole("staff") ? TopicAccess.Allow : TopicAccess.Deny);
    }
}
