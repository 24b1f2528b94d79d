using System.Runtime.Loader;

namespace Gateway.TestPlugin.Dependency;

/// <summary>Describes where this assembly was loaded from, so a test can check per-plugin dependency resolution.</summary>
public static class DependencyInfo
{
    public const string Marker = "private-dependency-v1";

    public static string AssemblyName => typeof(DependencyInfo).Assembly.GetName().Name!;

    public static string LoadContextName => AssemblyLoadContext.GetLoadContext(typeof(DependencyInfo).Assembly)?.Name ?? "(none)";

    public static string Location => typeof(DependencyInfo).Assembly.Location;
}
