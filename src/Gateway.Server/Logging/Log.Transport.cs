using Microsoft.Extensions.Logging;

namespace Gateway.Server;

// Source-generated log messages: no formatting or boxing unless the level is enabled. One partial file per concern;
// the event ids are shared across the files, so look here before taking a new one.
/// <summary>Listener, accept loop and connection lifetime (Transport/, GatewayServer).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, System.Net.EndPoint endPoint);

    [LoggerMessage(2, LogLevel.Warning, "Accept on {EndPoint} failed with {Error} ({Count} times since the last report); {Open} connections open; backing off {BackoffMs} ms")]
    public static partial void AcceptError(ILogger logger, System.Net.EndPoint endPoint, string error, int count, int open, int backoffMs);

    [LoggerMessage(3, LogLevel.Critical, "Accept loop on {EndPoint} stopped by a fatal error")]
    public static partial void AcceptFatal(ILogger logger, System.Net.EndPoint endPoint, Exception exception);

    [LoggerMessage(4, LogLevel.Debug, "[{ConnectionId}] accepted from {Remote}")]
    public static partial void Accepted(ILogger logger, long connectionId, System.Net.EndPoint? remote);

    [LoggerMessage(9, LogLevel.Information, "[{ConnectionId}] aborted: {Reason}")]
    public static partial void Aborted(ILogger logger, long connectionId, string reason);

    [LoggerMessage(11, LogLevel.Error, "[{ConnectionId}] unexpected connection error")]
    public static partial void ConnectionError(ILogger logger, long connectionId, Exception exception);

    [LoggerMessage(40, LogLevel.Information, "Connection limit: {Limit} ({Source}); accepting pauses at {AcceptLimit} open connections (0 = never)")]
    public static partial void ConnectionLimit(ILogger logger, int limit, string source, int acceptLimit);

    [LoggerMessage(41, LogLevel.Warning, "Limits:MaxConnections {Limit} is more than the descriptor limit {Descriptors} allows: accepting pauses at {AcceptLimit} open connections")]
    public static partial void ConnectionLimitAboveDescriptors(ILogger logger, int limit, long descriptors, int acceptLimit);

    [LoggerMessage(42, LogLevel.Warning, "Accepting on {EndPoint} paused at {AcceptLimit} open connections (connection limit {Limit}) until one closes")]
    public static partial void AcceptPaused(ILogger logger, System.Net.EndPoint endPoint, int acceptLimit, int limit);

    [LoggerMessage(12, LogLevel.Information, "Stopping: closing {Count} connections")]
    public static partial void Stopping(ILogger logger, int count);
}
