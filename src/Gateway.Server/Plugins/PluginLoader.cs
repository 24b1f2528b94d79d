using System.Reflection;
using System.Runtime.Loader;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

using Gateway.Server.Rpc;

namespace Gateway.Server.Plugins;

/// <summary>
/// Loads every plugin under the plugins folder (one subfolder per plugin, holding {folder}.dll and its
/// dependencies) into its own <see cref="AssemblyLoadContext"/>. Gateway.Abstractions, Microsoft.Extensions.*
/// and the framework's System.* come from the host, so a plugin's types and the host's agree; everything
/// else a plugin needs is resolved from its own folder through its deps.json. Any problem throws
/// <see cref="PluginLoadException"/> naming the plugin, the type and the method.
/// </summary>
public static class PluginLoader
{
    public static PluginCatalog Load(string folder, IServiceCollection services, IConfiguration configuration, JsonSerializerOptions json)
    {
        var full = Path.GetFullPath(folder);
        if (!Directory.Exists(full)) return new PluginCatalog([], [], full, folderExists: false);

        var plugins = new List<LoadedPlugin>();
        var procedures = new List<ProcedureDescriptor>();
        var byName = new Dictionary<string, ProcedureDescriptor>(StringComparer.Ordinal);
        foreach (var dir in Directory.GetDirectories(full).OrderBy(d => d, StringComparer.Ordinal))
        {
            string name = Path.GetFileName(dir);
            string main = Path.Combine(dir, name + ".dll");
            if (!File.Exists(main))
                throw new PluginLoadException($"plugin '{name}': folder {dir} has no {name}.dll (each plugin folder holds an assembly named after the folder).");

            Assembly assembly;
            Type[] types;
            try
            {
                var context = new PluginLoadContext(name, main);
                assembly = context.LoadFromAssemblyPath(main);
                types = assembly.GetTypes();
            }
            catch (ReflectionTypeLoadException ex)
            {
                var first = ex.LoaderExceptions.FirstOrDefault(e => e is not null);
                throw new PluginLoadException($"plugin '{name}': cannot load its types: {first?.Message ?? ex.Message}", ex);
            }
            catch (Exception ex) when (ex is BadImageFormatException or FileLoadException or FileNotFoundException)
            {
                throw new PluginLoadException($"plugin '{name}': cannot load {main}: {ex.Message}", ex);
            }
            plugins.Add(new LoadedPlugin(name, dir, assembly));

            foreach (var type in types.Where(t => typeof(IGatewayPlugin).IsAssignableFrom(t) && t is { IsClass: true, IsAbstract: false }))
            {
                try
                {
                    var entry = (IGatewayPlugin)Activator.CreateInstance(type)!;
                    entry.ConfigureServices(services, configuration);
                }
                catch (Exception ex)
                {
                    var inner = ex is TargetInvocationException { InnerException: { } ie } ? ie : ex;
                    throw new PluginLoadException($"plugin '{name}', {type.FullName}.ConfigureServices failed: {inner.Message}", inner);
                }
            }

            foreach (var type in types)
            {
                var service = type.GetCustomAttribute<RpcServiceAttribute>();
                if (service is null) continue;
                if (!type.IsClass || type.IsAbstract && !type.IsSealed || type.IsGenericTypeDefinition)
                    throw new PluginLoadException($"plugin '{name}', {type.FullName}: an [RpcService] must be a non-abstract, non-generic class.");
                if (!ProcedureDescriptor.IsValidName(service.Name))
                    throw new PluginLoadException($"plugin '{name}', {type.FullName}: service name '{service.Name}' may only contain letters, digits, '_', '-' and '.'.");
                bool any = false;
                foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
                {
                    var attribute = method.GetCustomAttribute<ProcedureAttribute>();
                    if (attribute is null) continue;
                    var descriptor = ProcedureDescriptor.Analyze(name, type, service.Name, method, attribute, json);
                    if (byName.TryGetValue(descriptor.Name, out var other))
                        throw new PluginLoadException($"procedure '{descriptor.Name}' is declared twice: by {other.Where} and by {descriptor.Where}.");
                    byName.Add(descriptor.Name, descriptor);
                    procedures.Add(descriptor);
                    any = true;
                }
                if (any && !(type.IsAbstract && type.IsSealed)) services.AddSingleton(type);
            }
        }
        return new PluginCatalog(plugins, procedures, full, folderExists: true);
    }
}
