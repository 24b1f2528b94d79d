using Microsoft.Extensions.Logging;

namespace Gateway.Server.Push;

internal static partial class PushLog
{
    [LoggerMessage(200, LogLevel.Information, "Node {NodeId} started; backplane: {Backplane}")]
    public static partial void Started(ILogger logger, string nodeId, string backplane);

    [LoggerMessage(201, LogLevel.Warning, "Backplane: {Operation} failed: {Reason}")]
    public static partial void BackplaneFailed(ILogger logger, string operation, string reason);

    [LoggerMessage(202, LogLevel.Warning, "Backplane: a node message of {Length} bytes could not be read")]
    public static partial void BadClusterMessage(ILogger logger, int length);
}
