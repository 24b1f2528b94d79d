using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Text;
using Gateway.Rpc.Tests.Infrastructure;
using Gateway.Server.Rpc;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Rpc.Tests.Authz;

/// <summary>
/// Identities for the authorization tests through the real authentication path: an <see cref="IConnectionAuthenticator"/>
/// (Gateway:Auth:Mode=Optional) reads test headers of the upgrade request, so each client picks who it is with them and no
/// token has to be signed. Roles become "role" claims and the name is the "sub" claim.
/// </summary>
public static class AuthzKit
{
    public const string UserHeader = "x-test-user";
    public const string RolesHeader = "x-test-roles";
    public const string TenantHeader = "x-test-tenant";

    private sealed class HeaderAuthenticator : IConnectionAuthenticator
    {
        public ValueTask<ConnectionAuthenticationResult> AuthenticateAsync(ConnectionAuthenticationRequest request, CancellationToken cancellationToken) =>
            ValueTask.FromResult(FromHeaders(request.Headers) is { } user ? ConnectionAuthenticationResult.Success(user) : ConnectionAuthenticationResult.NotMine);
    }

    public static ClaimsPrincipal? FromHeaders(IReadOnlyDictionary<string, string> headers)
    {
        if (!headers.TryGetValue(UserHeader, out var user)) return null;
        var claims = new List<Claim> { new("sub", user) };
        if (headers.TryGetValue(RolesHeader, out var roles))
            claims.AddRange(roles.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(r => new Claim("role", r)));
        if (headers.TryGetValue(TenantHeader, out var tenant)) claims.Add(new Claim("tenant", tenant));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, authenticationType: "Test", nameType: "sub", roleType: "role"));
    }

    /// <summary>Connect options for a client authenticated as <paramref name="user"/>.</summary>
    public static Action<ClientWebSocketOptions> As(string user, string? roles = null, string? tenant = null) => o =>
    {
        o.SetRequestHeader(UserHeader, user);
        if (roles is not null) o.SetRequestHeader(RolesHeader, roles);
        if (tenant is not null) o.SetRequestHeader(TenantHeader, tenant);
    };

    /// <summary>The standard plugins plus the authz plugin, identities from the test headers.</summary>
    public static async Task<RpcGateway> StartAsync(IDictionary<string, string?>? overrides = null, Action<IServiceCollection>? before = null)
    {
        var folder = new PluginFolder([.. Plugins.Standard, Plugins.Authz]);
        try
        {
            var settings = RpcGateway.Settings(folder.PluginsPath, overrides);
            settings.TryAdd("Gateway:Auth:Mode", "Optional");
            return await RpcGateway.StartAsync(folder, settings, services =>
            {
                services.AddSingleton<IConnectionAuthenticator, HeaderAuthenticator>();
                before?.Invoke(services);
            });
        }
        catch
        {
            folder.Dispose();
            throw;
        }
    }

    /// <summary>GET /metrics over a real socket, as a monitoring system would.</summary>
    public static async Task<string> ScrapeAsync(RpcGateway gateway)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", gateway.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"u8.ToArray());
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string text = await reader.ReadToEndAsync(cts.Token);
        Assert.StartsWith("HTTP/1.1 200", text);
        return text;
    }
}
