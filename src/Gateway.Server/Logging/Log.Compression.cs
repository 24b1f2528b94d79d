using Microsoft.Extensions.Logging;

namespace Gateway.Server;

/// <summary>permessage-deflate (event ids 800-819).</summary>
internal static partial class Log
{
    [LoggerMessage(800, LogLevel.Warning, "Gateway:Compression:Enabled is true but permessage-deflate stays off: the runtime's zlib (libSystem.IO.Compression.Native) cannot be used here ({Reason})")]
    public static partial void CompressionUnavailable(ILogger logger, string reason);

    [LoggerMessage(801, LogLevel.Debug, "[{ConnectionId}] permessage-deflate offer declined: {Reason}")]
    public static partial void CompressionDeclined(ILogger logger, long connectionId, string reason);

    [LoggerMessage(802, LogLevel.Debug, "[{ConnectionId}] permessage-deflate negotiated: {Response}")]
    public static partial void CompressionNegotiated(ILogger logger, long connectionId, string response);
}
