using Microsoft.Extensions.Logging;

namespace Gateway.Server;

/// <summary>Static files from the front door (Http/StaticFiles.cs): event ids 900-919.</summary>
internal static partial class Log
{
    [LoggerMessage(900, LogLevel.Information, "Serving static files from {Root}")]
    public static partial void StaticFilesEnabled(ILogger logger, string root);

    [LoggerMessage(901, LogLevel.Debug, "[{ConnectionId}] {Method} {Path}: {Status}")]
    public static partial void StaticFileServed(ILogger logger, long connectionId, string method, string path, int status);

    [LoggerMessage(902, LogLevel.Information, "[{ConnectionId}] static file request for {Path} refused with {Status}: {Reason}")]
    public static partial void StaticFileRefused(ILogger logger, long connectionId, string path, int status, string reason);

    [LoggerMessage(903, LogLevel.Warning, "[{ConnectionId}] reading static file {File} failed")]
    public static partial void StaticFileReadFailed(ILogger logger, Exception exception, long connectionId, string file);
}
