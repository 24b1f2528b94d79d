using Gateway.Protocol.WebSockets;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.Rpc.Limits;

/// <summary>
/// What one client gets wrong, counted and logged: invalid envelopes in a row (past Limits:MaxBadMessages the
/// connection is closed with 1008), dropped notifications, failing handlers. A client decides how often these happen,
/// so each line goes through the log budget (Limits:ClientFaultLogsPerSecond); counters and replies stay exact.
/// </summary>
internal sealed class ClientFaults(WebSocketSession session, ILogger log, GatewayMetrics? metrics, int maxBadMessages)
{
    private int _badInARow;

    /// <summary>Whether a per-connection line at <paramref name="level"/> is written now (Limits:ClientFaultLogsPerSecond).</summary>
    public bool MayLog(LogLevel level) => metrics is not null ? metrics.LogBudget.Allow(log, level) : log.IsEnabled(level);

    /// <summary>Counts unparseable envelopes in a row; past the limit the connection is closed with 1008.</summary>
    public void BadMessage(string problem)
    {
        if (MayLog(LogLevel.Debug)) RpcLog.BadEnvelope(log, session.Id, problem);
        if (++_badInARow >= maxBadMessages)
        {
            session.Close(CloseCodes.PolicyViolation, "too many invalid messages");
        }
    }

    public void GoodMessage() => _badInARow = 0;

    /// <summary>A frame of the other type than the negotiated format's: counted (protocol errors, 1003), logged, closed with 1003.</summary>
    public void WrongFrameType(string frameType, string subprotocol, string reason)
    {
        metrics?.ProtocolError(CloseCodes.UnsupportedData);
        if (MayLog(LogLevel.Information)) WireLog.WrongFrameType(log, session.Id, frameType, subprotocol);
        session.Close(CloseCodes.UnsupportedData, reason);
    }

    public void DroppedNotification(string path, string reason)
    {
        if (MayLog(LogLevel.Debug)) RpcLog.NotificationDropped(log, session.Id, path, reason);
    }

    // A client decides how often a handler fails (echo/crash in a loop): the first failures of each second are
    // written with their stack trace, the rest counted into the heartbeat's "suppressed" summary. The INTERNAL
    // reply and gateway_internal_errors_total stay exact whatever the log lets through.
    public void HandlerFailed(string path, Exception ex)
    {
        if (MayLog(LogLevel.Error)) RpcLog.HandlerFailed(log, session.Id, path, ex);
    }

    /// <summary>Too many rate-limited calls in a row: counted, logged, and the connection closed with 1008.</summary>
    public void RateLimitAbuse(int rejectedInRow)
    {
        metrics?.RateLimitClose();
        if (MayLog(LogLevel.Warning)) RpcLog.Abuse(log, session.Id, rejectedInRow);
        session.Close(CloseCodes.PolicyViolation, "rate limit exceeded repeatedly");
    }

    public void UnknownServerCallReply()
    {
        // Late (after its deadline or a cancel) or never ours: nothing waits for it.
        if (MayLog(LogLevel.Debug)) RpcLog.BadEnvelope(log, session.Id, "reply to an unknown server call ignored");
    }
}
