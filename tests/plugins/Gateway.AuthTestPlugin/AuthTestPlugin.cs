using System.Security.Claims;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.AuthTestPlugin;

/// <summary>Registers the two schemes in this order: API keys first, then the trusted proxy header.</summary>
public sealed class AuthTestPluginEntry : IGatewayPlugin
{
    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<IConnectionAuthenticator, ApiKeyAuthenticator>();
        services.AddSingleton<IConnectionAuthenticator, ProxyUserAuthenticator>();
    }
}

/// <summary>
/// X-Api-Key: "key-&lt;user&gt;" authenticates that user (role "apikey"); "banned" is forbidden; "throw" throws; any other
/// value is refused. A request with ?api_key=... works the same. Without the header it is not this scheme's.
/// </summary>
public sealed class ApiKeyAuthenticator : IConnectionAuthenticator
{
    public ValueTask<ConnectionAuthenticationResult> AuthenticateAsync(ConnectionAuthenticationRequest request, CancellationToken cancellationToken)
    {
        if (!request.Headers.TryGetValue("X-Api-Key", out var key) && !request.Query.TryGetValue("api_key", out key))
            return new(ConnectionAuthenticationResult.NotMine);
        if (key == "banned") return new(ConnectionAuthenticationResult.Forbid("this API key is suspended"));
        if (key == "throw") throw new InvalidOperationException("the key store is down");
        if (!key.StartsWith("key-", StringComparison.Ordinal)) return new(ConnectionAuthenticationResult.Fail("unknown API key"));
        var identity = new ClaimsIdentity([new Claim("sub", key[4..]), new Claim("role", "apikey"), new Claim("remote", request.RemoteEndPoint?.Address.ToString() ?? "")],
            authenticationType: "ApiKey", nameType: "sub", roleType: "role");
        var expires = request.Headers.TryGetValue("X-Expires-In-Ms", out var ms) ? DateTimeOffset.UtcNow.AddMilliseconds(double.Parse(ms)) : (DateTimeOffset?)null;
        return new(ConnectionAuthenticationResult.Success(new ClaimsPrincipal(identity), expires));
    }
}

/// <summary>X-Proxy-User: a user name set by a trusted proxy (path /ws only).</summary>
public sealed class ProxyUserAuthenticator : IConnectionAuthenticator
{
    public ValueTask<ConnectionAuthenticationResult> AuthenticateAsync(ConnectionAuthenticationRequest request, CancellationToken cancellationToken)
    {
        if (!request.Headers.TryGetValue("X-Proxy-User", out var user) || request.Path != "/ws") return new(ConnectionAuthenticationResult.NotMine);
        var identity = new ClaimsIdentity([new Claim("sub", user), new Claim("role", "proxied")], "Proxy", "sub", "role");
        return new(ConnectionAuthenticationResult.Success(new ClaimsPrincipal(identity)));
    }
}

public sealed record Me(bool Authenticated, string? Scheme, string? Name, string? UserId, string[] Roles, bool IsAdmin);

[RpcService("auth-test")]
public sealed class MeService
{
    [Rpc("me")]
    public Me Who(RpcContext context)
    {
        var user = context.User;
        var roles = user.FindAll(c => c.Type == ((user.Identity as ClaimsIdentity)?.RoleClaimType ?? "role")).Select(c => c.Value).ToArray();
        return new Me(user.Identity?.IsAuthenticated == true, user.Identity?.AuthenticationType, user.Identity?.Name, context.UserId, roles, user.IsInRole("admin"));
    }
}
