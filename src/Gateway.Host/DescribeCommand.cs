using Gateway.Server.Hosting;
using Gateway.Server.Options;
using Gateway.Server.Plugins;
using Gateway.Server.Rpc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

/// <summary>
/// <c>Gateway.Host describe [--plugins DIR] [other settings]</c>: loads the plugins as the gateway would and writes what
/// <c>$describe</c> answers, as indented JSON, to stdout, without listening or starting anything (no backplane, no plugin
/// background service), so clients can be generated in a build. Exit codes: 0, 2 for a plugin or configuration error.
/// </summary>
internal static class DescribeCommand
{
    public static async Task<int> RunAsync(string[] args, string contentRoot)
    {
        var rest = new List<string>();
        string? plugins = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "--plugins" or "-p")
            {
                if (i + 1 >= args.Length)
                {
                    Console.Error.WriteLine("describe: --plugins needs a folder, e.g. describe --plugins plugins");
                    return 2;
                }
                plugins = args[++i];
            }
            else rest.Add(args[i]);
        }
        var builder = new ConfigurationBuilder()
            .SetBasePath(contentRoot)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine([.. rest]);
        var overrides = new Dictionary<string, string?>
        {
            // Describing needs no broker: the document depends only on the plugins and the JSON and topic settings.
            [$"{GatewayOptions.SectionName}:Backplane:Type"] = nameof(BackplaneType.InMemory),
        };
        if (plugins is not null) overrides[$"{GatewayOptions.SectionName}:Plugins:Path"] = Path.GetFullPath(plugins);
        var configuration = builder.AddInMemoryCollection(overrides).Build();
        try
        {
            var services = new ServiceCollection().AddLogging(); // no provider: stdout carries only the document
            services.AddGateway(configuration);
            // appsettings.json carries a Gateway:Backplane:Redis section; its checks live with the Redis assembly.
            Gateway.Backplane.Redis.RedisBackplaneServiceCollectionExtensions.AddRedisBackplaneOptions(services);
            await using var provider = services.BuildServiceProvider();
            var rpc = provider.GetRequiredService<RpcApplication>();
            Console.Out.WriteLine(rpc.Description.ToJsonString(new System.Text.Json.JsonSerializerOptions
            {
                WriteIndented = true,
                Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            }));
            return 0;
        }
        catch (PluginLoadException ex)
        {
            Console.Error.WriteLine("A plugin cannot be used: " + ex.Message);
            return 2;
        }
        catch (Exception ex) when (ex is Microsoft.Extensions.Options.OptionsValidationException or GatewayConfigurationException)
        {
            Console.Error.WriteLine("Invalid configuration: " + ex.Message);
            return 2;
        }
    }
}
