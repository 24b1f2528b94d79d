using Gateway.Backplane;
using Gateway.Server.Options;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Backplane.Redis;

public static class RedisBackplaneServiceCollectionExtensions
{
    /// <summary>
    /// Makes the gateway's backplane Redis, configured by <c>Gateway:Backplane:Redis</c> (Configuration, ChannelPrefix,
    /// HeartbeatInterval, OperationTimeout). Call after AddGateway; the host does when <c>Gateway:Backplane:Type</c> is Redis.
    /// </summary>
    public static IServiceCollection AddRedisBackplane(this IServiceCollection services)
    {
        services.Replace(ServiceDescriptor.Singleton<IBackplane>(sp => new RedisBackplane(
            sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Backplane.Redis,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.Backplane.Redis"))));
        return services;
    }
}
