using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway;

/// <summary>
/// Optional entry point of a plugin assembly: a public class with a parameterless constructor that
/// implementing this is created once at startup, before any service, so the plugin can register its own
/// services (repositories, HTTP clients, options) and read its own configuration section.
/// </summary>
public interface IGatewayPlugin
{
    /// <summary>Registers the plugin's services.</summary>
    /// <param name="services">The gateway's service collection; the plugin's <c>[RpcService]</c> classes are added to it as singletons.</param>
    /// <param name="configuration">The gateway's whole configuration; read your own section, e.g. <c>configuration.GetSection("MyPlugin")</c>.</param>
    void ConfigureServices(IServiceCollection services, IConfiguration configuration);
}
