using Microsoft.Extensions.Logging;

namespace Gateway.Server;

/// <summary>Source-generated log messages: no formatting or boxing unless the level is enabled.</summary>
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

    [LoggerMessage(5, LogLevel.Information, "[{ConnectionId}] handshake rejected with {Status}: {Reason}")]
    public static partial void HandshakeRejected(ILogger logger, long connectionId, int status, string reason);

    [LoggerMessage(6, LogLevel.Debug, "[{ConnectionId}] upgraded on {Path} (subprotocol {Subprotocol})")]
    public static partial void Upgraded(ILogger logger, long connectionId, string path, string subprotocol);

    [LoggerMessage(7, LogLevel.Information, "[{ConnectionId}] protocol error, closing with {CloseCode}: {Reason}")]
    public static partial void ProtocolError(ILogger logger, long connectionId, ushort closeCode, string reason);

    [LoggerMessage(8, LogLevel.Debug, "[{ConnectionId}] session ended: {Outcome}")]
    public static partial void SessionEnded(ILogger logger, long connectionId, string outcome);

    [LoggerMessage(9, LogLevel.Information, "[{ConnectionId}] aborted: {Reason}")]
    public static partial void Aborted(ILogger logger, long connectionId, string reason);

    [LoggerMessage(10, LogLevel.Error, "[{ConnectionId}] application error")]
    public static partial void ApplicationError(ILogger logger, long connectionId, Exception exception);

    [LoggerMessage(11, LogLevel.Error, "[{ConnectionId}] unexpected connection error")]
    public static partial void ConnectionError(ILogger logger, long connectionId, Exception exception);

    [LoggerMessage(13, LogLevel.Information, "[{ConnectionId}] closing: {Reason}")]
    public static partial void TimedOut(ILogger logger, long connectionId, string reason);

    [LoggerMessage(14, LogLevel.Warning, "[{ConnectionId}] slow consumer over the send buffer limit: {Action}")]
    public static partial void SlowConsumer(ILogger logger, long connectionId, string action);

    [LoggerMessage(15, LogLevel.Warning, "{Count} per-connection log lines (client faults, aborted connections, handler failures) were suppressed (Limits:ClientFaultLogsPerSecond)")]
    public static partial void Suppressed(ILogger logger, long count);

    [LoggerMessage(40, LogLevel.Information, "Connection limit: {Limit} ({Source}); accepting pauses at {AcceptLimit} open connections (0 = never)")]
    public static partial void ConnectionLimit(ILogger logger, int limit, string source, int acceptLimit);

    [LoggerMessage(41, LogLevel.Warning, "Limits:MaxConnections {Limit} is more than the descriptor limit {Descriptors} allows: accepting pauses at {AcceptLimit} open connections")]
    public static partial void ConnectionLimitAboveDescriptors(ILogger logger, int limit, long descriptors, int acceptLimit);

    [LoggerMessage(42, LogLevel.Warning, "Accepting on {EndPoint} paused at {AcceptLimit} open connections (connection limit {Limit}) until one closes")]
    public static partial void AcceptPaused(ILogger logger, System.Net.EndPoint endPoint, int acceptLimit, int limit);

    [LoggerMessage(12, LogLevel.Information, "Stopping: closing {Count} connections")]
    public static partial void Stopping(ILogger logger, int count);

    [LoggerMessage(40, LogLevel.Warning, "[{ConnectionId}] closing with 1009: holds {HeldBytes} bytes of incomplete messages while all connections together are over Limits:MaxPartialMessageBytesTotal ({LimitBytes})")]
    public static partial void PartialMessageCapClose(ILogger logger, long connectionId, long heldBytes, long limitBytes);

    [LoggerMessage(41, LogLevel.Information, "Incomplete messages may hold at most {LimitBytes} bytes across all connections (Limits:MaxPartialMessageBytesTotal{Source})")]
    public static partial void PartialMessageCap(ILogger logger, long limitBytes, string source);
}
