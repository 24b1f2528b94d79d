using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.TestPlugin;

/// <summary>The greeting read from the TestPlugin configuration section by the plugin entry point.</summary>
public sealed record GreetingOptions(string Greeting);

/// <summary>The plugin's entry point: registers its own services, one of them from its configuration section.</summary>
public sealed class TestPluginEntry : IGatewayPlugin
{
    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection("TestPlugin");
        services.AddSingleton(new GreetingOptions(section["Greeting"] ?? "(no greeting configured)"));
        services.AddSingleton<TestState>();
        services.AddSingleton<ITopicPolicy, TestTopicPolicy>();
    }
}
