using Microsoft.Extensions.Logging;

namespace Gateway.Server;

/// <summary>The HTTP front door (Http/).</summary>
internal static partial class Log
{
    [LoggerMessage(5, LogLevel.Information, "[{ConnectionId}] handshake rejected with {Status}: {Reason}")]
    public static partial void HandshakeRejected(ILogger logger, long connectionId, int status, string reason);

    [LoggerMessage(6, LogLevel.Debug, "[{ConnectionId}] upgraded on {Target} (subprotocol {Subprotocol})")]
    public static partial void Upgraded(ILogger logger, long connectionId, string target, string subprotocol);
}
