namespace Gateway.Server.Plugins;

/// <summary>A plugin could not be loaded or one of its handlers is unusable; the message names the plugin, the type and the method.</summary>
public sealed class PluginLoadException(string message, Exception? inner = null) : Exception(message, inner);
