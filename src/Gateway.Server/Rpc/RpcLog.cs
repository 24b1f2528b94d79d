using Microsoft.Extensions.Logging;

namespace Gateway.Server.Rpc;

internal static partial class RpcLog
{
    [LoggerMessage(100, LogLevel.Error, "[{ConnectionId}] handler for {Path} failed")]
    public static partial void HandlerFailed(ILogger logger, long connectionId, string path, Exception exception);

    [LoggerMessage(101, LogLevel.Debug, "[{ConnectionId}] notification to {Path} dropped: {Reason}")]
    public static partial void NotificationDropped(ILogger logger, long connectionId, string path, string reason);

    [LoggerMessage(102, LogLevel.Debug, "[{ConnectionId}] invalid envelope: {Problem}")]
    public static partial void BadEnvelope(ILogger logger, long connectionId, string problem);

    [LoggerMessage(103, LogLevel.Information, "Plugin {Plugin} loaded from {Path}")]
    public static partial void PluginLoaded(ILogger logger, string plugin, string path);

    [LoggerMessage(104, LogLevel.Information, "  {Kind} {Procedure} ({Input} -> {Output}) [{Plugin}]")]
    public static partial void ProcedureBound(ILogger logger, string kind, string procedure, string input, string output, string plugin);

    [LoggerMessage(106, LogLevel.Warning, "[{ConnectionId}] closing with 1008 after {Count} rate-limited calls in a row")]
    public static partial void Abuse(ILogger logger, long connectionId, int count);

    [LoggerMessage(105, LogLevel.Warning, "Plugins folder {Path} does not exist: only the built-in procedures are served")]
    public static partial void NoPluginFolder(ILogger logger, string path);
}
