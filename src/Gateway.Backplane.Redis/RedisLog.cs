using Microsoft.Extensions.Logging;

namespace Gateway.Backplane.Redis;

internal static partial class RedisLog
{
    [LoggerMessage(300, LogLevel.Warning, "Redis backplane: {ConnectionType} connection to {EndPoint} lost ({Failure}); reconnecting")]
    public static partial void ConnectionFailed(ILogger logger, string connectionType, string endPoint, string failure);

    [LoggerMessage(301, LogLevel.Information, "Redis backplane: {ConnectionType} connection to {EndPoint} restored")]
    public static partial void ConnectionRestored(ILogger logger, string connectionType, string endPoint);

    [LoggerMessage(302, LogLevel.Warning, "Redis backplane: Redis ({Configuration}) is not reachable yet; the gateway serves its own connections and keeps trying")]
    public static partial void NotConnectedAtStart(ILogger logger, string configuration);

    [LoggerMessage(303, LogLevel.Warning, "Redis backplane: {Operation} failed: {Reason}")]
    public static partial void OperationFailed(ILogger logger, string operation, string reason);

    [LoggerMessage(304, LogLevel.Information, "Redis backplane: node {NodeId} was missing from Redis (restarted or cut off); registered again with {Users} users")]
    public static partial void Reannounced(ILogger logger, string nodeId, int users);

    [LoggerMessage(305, LogLevel.Information, "Redis backplane: node {NodeId} stopped heartbeating; removed it from {Users} users")]
    public static partial void DeadNodeRemoved(ILogger logger, string nodeId, int users);
}
