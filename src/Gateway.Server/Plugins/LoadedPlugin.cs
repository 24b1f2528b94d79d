using System.Reflection;

namespace Gateway.Server.Plugins;

/// <summary>One plugin folder's assembly, loaded into its own context.</summary>
public sealed record LoadedPlugin(string Name, string Folder, Assembly Assembly);
