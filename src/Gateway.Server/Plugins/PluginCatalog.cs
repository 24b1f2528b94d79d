using Gateway.Server.Rpc;

namespace Gateway.Server.Plugins;

/// <summary>What the plugins folder holds: plugins and the procedures they declare, checked and ready to bind.</summary>
public sealed class PluginCatalog
{
    internal PluginCatalog(IReadOnlyList<LoadedPlugin> plugins, IReadOnlyList<ProcedureDescriptor> procedures, string folder, bool folderExists)
    {
        Plugins = plugins;
        Procedures = procedures;
        Folder = folder;
        FolderExists = folderExists;
    }

    public IReadOnlyList<LoadedPlugin> Plugins { get; }
    internal IReadOnlyList<ProcedureDescriptor> Procedures { get; }
    public string Folder { get; }
    public bool FolderExists { get; }
}
