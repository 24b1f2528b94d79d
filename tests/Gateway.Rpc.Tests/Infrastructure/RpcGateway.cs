using System.Net.WebSockets;
using Gateway.Server;
using Gateway.Server.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Rpc.Tests.Infrastructure;

/// <summary>Well-known plugin folder names (each is also the plugin's assembly and project name).</summary>
public static class Plugins
{
    public const string Samples = "Gateway.Samples";
    public const string Test = "Gateway.TestPlugin";
    public const string BadSignature = "Gateway.BadSignaturePlugin";
    public const string Duplicate = "Gateway.DuplicatePlugin";
    public const string DuplicateSelf = "Gateway.DuplicateSelfPlugin";
    public const string Crashing = "Gateway.CrashingPlugin";
    public const string Authz = "Gateway.AuthzPlugin";

    public static readonly string[] Standard = [Samples, Test];
}

/// <summary>
/// A fresh temp folder <c>&lt;tmp&gt;/&lt;guid&gt;/plugins/&lt;Name&gt;/</c> holding copies of plugins' build outputs.
/// Deleted (best effort) on dispose.
/// </summary>
public sealed class PluginFolder : IDisposable
{
    private static readonly Lazy<string> LazyRepoRoot = new(FindRepoRoot);

    public PluginFolder(params string[] plugins)
    {
        Root = Path.Combine(Path.GetTempPath(), "gateway-rpc-tests", Guid.NewGuid().ToString("N"));
        PluginsPath = Path.Combine(Root, "plugins");
        Directory.CreateDirectory(PluginsPath);
        foreach (var name in plugins) Add(name);
    }

    public string Root { get; }
    public string PluginsPath { get; }

    /// <summary>The repository root: the first ancestor of the test assembly's folder that holds Gateway.sln.</summary>
    public static string RepoRoot => LazyRepoRoot.Value;

    /// <summary>The build configuration, read from the test assembly's own output path (…/bin/&lt;Configuration&gt;/net10.0/).</summary>
    public static string Configuration
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
            return dir.Parent?.Name ?? "Debug";
        }
    }

    public static string TargetFramework =>
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar)).Name;

    /// <summary>Where a plugin project's build output is.</summary>
    public static string BuildOutput(string name)
    {
        string project = name == Plugins.Samples
            ? Path.Combine(RepoRoot, "src", name)
            : Path.Combine(RepoRoot, "tests", "plugins", name);
        string output = Path.Combine(project, "bin", Configuration, TargetFramework);
        if (!File.Exists(Path.Combine(output, name + ".dll")))
            throw new InvalidOperationException($"plugin {name} is not built: {output} has no {name}.dll (the test project references it, so build the test project).");
        return output;
    }

    /// <summary>Copies a plugin's build output to plugins/&lt;name&gt;/ and returns that folder.</summary>
    public string Add(string name)
    {
        string target = Path.Combine(PluginsPath, name);
        CopyDirectory(BuildOutput(name), target);
        return target;
    }

    private static void CopyDirectory(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        foreach (var dir in Directory.GetDirectories(source)) CopyDirectory(dir, Path.Combine(target, Path.GetFileName(dir)));
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Gateway.sln not found above " + AppContext.BaseDirectory);
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// A real gateway as the host builds it: <c>new ServiceCollection().AddLogging().AddGateway(configuration)</c> with an
/// in-memory configuration, listening on 127.0.0.1 and a free port, its plugins copied into a fresh temp folder.
/// </summary>
public sealed class RpcGateway : IAsyncDisposable
{
    public const string Greeting = "hello from the TestPlugin section";

    private RpcGateway(PluginFolder folder, ServiceProvider provider, GatewayServer server)
    {
        Folder = folder;
        Provider = provider;
        Server = server;
    }

    public PluginFolder Folder { get; }
    public ServiceProvider Provider { get; }
    public GatewayServer Server { get; }
    public int Port => Server.BoundEndPoints[0].Port;
    public Uri Uri => new($"ws://127.0.0.1:{Port}/ws");

    /// <summary>The settings every test gateway gets; <paramref name="overrides"/> are applied on top.</summary>
    public static Dictionary<string, string?> Settings(string pluginsPath, IDictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Gateway:Listen:0"] = "127.0.0.1:0",
            ["Gateway:Plugins:Path"] = pluginsPath,
            ["Gateway:Timeouts:Close"] = "00:00:01",
            ["Gateway:Timeouts:HeartbeatResolution"] = "00:00:00.050",
            ["TestPlugin:Greeting"] = Greeting,
        };
        if (overrides is not null)
        {
            foreach (var (k, v) in overrides) settings[k] = v;
        }
        return settings;
    }

    /// <summary>
    /// AddGateway over that configuration, then resolves the server (where plugin problems surface).
    /// <paramref name="before"/> registers services ahead of AddGateway (an <c>IBackplane</c>, e.g. an InMemoryBackplane on a shared
    /// InMemoryBus to make several gateways one cluster); <paramref name="after"/> runs after it (e.g. AddRedisBackplane).
    /// </summary>
    public static ServiceProvider BuildProvider(IDictionary<string, string?> settings, Action<IServiceCollection>? before = null, Action<IServiceCollection>? after = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging();
        before?.Invoke(services);
        services.AddGateway(configuration);
        after?.Invoke(services);
        var provider = services.BuildServiceProvider();
        try
        {
            provider.GetRequiredService<GatewayServer>();
        }
        catch
        {
            // DisposeAsync: the singletons created before the failure may be IAsyncDisposable only (the backplane, the
            // hub), and a synchronous Dispose would throw for them, hiding the error the caller is asking about.
            provider.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
        return provider;
    }

    public static Task<RpcGateway> StartAsync(IDictionary<string, string?>? overrides = null) => StartAsync(Plugins.Standard, overrides);

    public static async Task<RpcGateway> StartAsync(string[] plugins, IDictionary<string, string?>? overrides = null)
    {
        var folder = new PluginFolder(plugins);
        try
        {
            return await StartAsync(folder, Settings(folder.PluginsPath, overrides));
        }
        catch
        {
            folder.Dispose();
            throw;
        }
    }

    public static async Task<RpcGateway> StartAsync(PluginFolder folder, IDictionary<string, string?> settings,
        Action<IServiceCollection>? before = null, Action<IServiceCollection>? after = null)
    {
        var provider = BuildProvider(settings, before, after);
        var server = provider.GetRequiredService<GatewayServer>();
        // What GatewayHostedService does in the host: the hub joins the backplane, then the listener starts.
        await provider.GetRequiredService<Gateway.Server.Push.PushHub>().StartAsync();
        await server.StartAsync();
        return new RpcGateway(folder, provider, server);
    }

    public Task<RpcClient> ConnectAsync(Action<ClientWebSocketOptions>? configure = null) => RpcClient.ConnectAsync(Uri, configure);

    /// <summary>Waits (bounded) until the server counts exactly <paramref name="expected"/> connections.</summary>
    public async Task<bool> WaitForConnectionCountAsync(int expected, TimeSpan? timeout = null)
    {
        // GatewayServer exposes no event for this, so this polls a counter, with a deadline.
        var deadline = DateTime.UtcNow + (timeout ?? RpcClient.DefaultTimeout);
        while (Server.ConnectionCount != expected)
        {
            if (DateTime.UtcNow >= deadline) return false;
            await Task.Delay(10);
        }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await Server.StopAsync(cts.Token);
            await Provider.GetRequiredService<Gateway.Server.Push.PushHub>().StopAsync(cts.Token);
        }
        finally
        {
            await Provider.DisposeAsync();
            Folder.Dispose();
        }
    }
}

/// <summary>The standard gateway (sample plugin and test plugin), shared by the tests of a class.</summary>
public sealed class StandardGatewayFixture : IAsyncLifetime
{
    private RpcGateway? _gateway;
    public RpcGateway Gateway => _gateway ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _gateway = await RpcGateway.StartAsync();

    public async Task DisposeAsync()
    {
        if (_gateway is not null) await _gateway.DisposeAsync();
    }
}
