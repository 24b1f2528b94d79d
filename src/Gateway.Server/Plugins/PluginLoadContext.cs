using System.Reflection;
using System.Runtime.Loader;

namespace Gateway.Server.Plugins;

/// <summary>A plugin's own load context: shared contracts from the host, the rest from the plugin's folder.</summary>
internal sealed class PluginLoadContext : AssemblyLoadContext
{
    private readonly AssemblyDependencyResolver _resolver;

    public PluginLoadContext(string name, string mainAssemblyPath) : base("plugin:" + name, isCollectible: false)
    {
        _resolver = new AssemblyDependencyResolver(mainAssemblyPath);
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (IsShared(assemblyName.Name))
        {
            // The host's copy, so that RpcContext, ILogger<T>, IServiceCollection... are the same types on both sides.
            try { return Default.LoadFromAssemblyName(assemblyName); }
            catch (FileNotFoundException) { }
        }
        string? path = _resolver.ResolveAssemblyToPath(assemblyName);
        return path is null ? null : LoadFromAssemblyPath(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        string? path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }

    internal static bool IsShared(string? name) => name is not null &&
        (name == "Gateway.Abstractions" || name.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal)
         || name.StartsWith("System.", StringComparison.Ordinal) || name is "System" or "netstandard" or "mscorlib");
}
