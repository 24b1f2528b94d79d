using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.CrashingPlugin;

/// <summary>A plugin entry point whose ConfigureServices throws: startup must fail naming it.</summary>
public sealed class CrashingPluginEntry : IGatewayPlugin
{
    public const string Message = "crashing plugin refuses to configure";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration) =>
        throw new InvalidOperationException(Message);
}

[RpcService("crashing")]
public sealed class CrashingService
{
    [Rpc("never")]
    public int Never() => 0;
}
