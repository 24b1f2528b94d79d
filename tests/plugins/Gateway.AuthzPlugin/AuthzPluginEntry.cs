using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.AuthzPlugin;

/// <summary>
/// Registers the policies the services name (unless AuthzPlugin:SkipPolicies is true: the unknown-policy startup check),
/// the topic policy, and, when AuthzPlugin:Filters / AuthzPlugin:Hooks are "on", two call filters and a connection hook.
/// Filters and hooks are opt-in so every other test keeps the unfiltered path.
/// </summary>
public sealed class AuthzPluginEntry : IGatewayPlugin
{
    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection("AuthzPlugin");
        var journal = new Journal();
        services.AddSingleton(journal);
        if (!string.Equals(section["SkipPolicies"], "true", StringComparison.OrdinalIgnoreCase))
        {
            services.AddSingleton<IRpcAuthorizationPolicy, TenantPolicy>();
            services.AddSingleton<IRpcAuthorizationPolicy, SlowTenantPolicy>();
            services.AddSingleton<IRpcAuthorizationPolicy, ThrowingPolicy>();
        }
        services.AddSingleton<ITopicPolicy, StaffTopicPolicy>();
        if (section["Filters"] == "on")
        {
            services.AddSingleton<IRpcFilter>(new RecordingFilter("outer", journal));
            services.AddSingleton<IRpcFilter>(new RecordingFilter("inner", journal));
        }
        if (section["Hooks"] == "on") services.AddSingleton<IConnectionHandler>(new RecordingHooks(journal));
    }
}
