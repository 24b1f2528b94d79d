using Microsoft.Extensions.Logging;

namespace Gateway.Server;

/// <summary>WebSocket sessions, the heartbeat and the client-fault log budget (WebSockets/, Heartbeat/).</summary>
internal static partial class Log
{
    [LoggerMessage(7, LogLevel.Information, "[{ConnectionId}] protocol error, closing with {CloseCode}: {Reason}")]
    public static partial void ProtocolError(ILogger logger, long connectionId, ushort closeCode, string reason);

    [LoggerMessage(8, LogLevel.Debug, "[{ConnectionId}] session ended: {Outcome}")]
    public static partial void SessionEnded(ILogger logger, long connectionId, string outcome);

    [LoggerMessage(10, LogLevel.Error, "[{ConnectionId}] application error")]
    public static partial void ApplicationError(ILogger logger, long connectionId, Exception exception);

    [LoggerMessage(13, LogLevel.Information, "[{ConnectionId}] closing: {Reason}")]
    public static partial void TimedOut(ILogger logger, long connectionId, string reason);

    [LoggerMessage(14, LogLevel.Warning, "[{ConnectionId}] slow consumer over the send buffer limit: {Action}")]
    public static partial void SlowConsumer(ILogger logger, long connectionId, string action);

    [LoggerMessage(15, LogLevel.Warning, "{Count} per-connection log lines (client faults, aborted connections, handler failures) were suppressed (Limits:ClientFaultLogsPerSecond)")]
    public static partial void Suppressed(ILogger logger, long count);

    [LoggerMessage(43, LogLevel.Warning, "[{ConnectionId}] closing with 1009: holds {HeldBytes} bytes of incomplete messages while all connections together are over Limits:MaxPartialMessageBytesTotal ({LimitBytes})")]
    public static partial void PartialMessageCapClose(ILogger logger, long connectionId, long heldBytes, long limitBytes);

    [LoggerMessage(44, LogLevel.Information, "Incomplete messages may hold at most {LimitBytes} bytes across all connections (Limits:MaxPartialMessageBytesTotal{Source})")]
    public static partial void PartialMessageCap(ILogger logger, long limitBytes, string source);
}
