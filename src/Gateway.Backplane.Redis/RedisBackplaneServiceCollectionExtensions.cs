using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Backplane.Redis;

public static class RedisBackplaneServiceCollectionExtensions
{
    /// <summary>
    /// Makes <c>Gateway:Backplane:Redis</c> (Configuration, ChannelPrefix, HeartbeatInterval, OperationTimeout) part of
    /// the gateway's configuration: its keys are checked with the rest at startup, whichever backplane is selected. The
    /// host calls it always, so a Redis section in appsettings.json is valid with Type=InMemory too.
    /// </summary>
    public static IServiceCollection AddRedisBackplaneOptions(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<BackplaneOptionsSection, RedisBackplaneOptionsSection>());
        // Bound with the plain binder: by the time the backplane is created, the gateway's reader has checked the section.
        services.AddOptions<RedisBackplaneOptions>()
            .Configure<IConfiguration>((o, configuration) => configuration.GetSection(RedisBackplaneOptions.SectionPath).Bind(o));
        return services;
    }

    /// <summary>
    /// Makes the gateway's backplane Redis, configured by <c>Gateway:Backplane:Redis</c>. Call after AddGateway; the
    /// host does when <c>Gateway:Backplane:Type</c> is Redis.
    /// </summary>
    public static IServiceCollection AddRedisBackplane(this IServiceCollection services)
    {
        services.AddRedisBackplaneOptions();
        services.Replace(ServiceDescriptor.Singleton<IBackplane>(sp => new RedisBackplane(
            sp.GetRequiredService<IOptions<RedisBackplaneOptions>>().Value,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.Backplane.Redis"))));
        return services;
    }
}
