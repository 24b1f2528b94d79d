using Microsoft.Extensions.Logging;

namespace Gateway.Server.Rpc.Limits;

/// <summary>Lines about the wire formats (JSON, MessagePack): event ids 500-519.</summary>
internal static partial class WireLog
{
    [LoggerMessage(500, LogLevel.Information, "[{ConnectionId}] {FrameType} frame on a {Subprotocol} connection: closing with 1003")]
    public static partial void WrongFrameType(ILogger logger, long connectionId, string frameType, string subprotocol);
}
