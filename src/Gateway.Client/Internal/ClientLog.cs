using Microsoft.Extensions.Logging;

namespace Gateway.Client.Internal;

/// <summary>The client's log lines (category Gateway.Client).</summary>
internal static partial class ClientLog
{
    [LoggerMessage(1, LogLevel.Information, "Connected to {Uri}")]
    public static partial void Connected(ILogger logger, Uri uri);

    [LoggerMessage(2, LogLevel.Warning, "Connection to {Uri} lost ({Reason}); {Pending} call(s) in flight failed")]
    public static partial void ConnectionLost(ILogger logger, Uri uri, string reason, int pending);

    [LoggerMessage(3, LogLevel.Information, "Reconnect attempt {Attempt} to {Uri} in {DelayMs} ms")]
    public static partial void ReconnectScheduled(ILogger logger, int attempt, Uri uri, long delayMs);

    [LoggerMessage(4, LogLevel.Warning, "Reconnect attempt {Attempt} to {Uri} failed: {Error}")]
    public static partial void ReconnectFailed(ILogger logger, int attempt, Uri uri, string error);

    [LoggerMessage(5, LogLevel.Information, "Reconnected to {Uri} after {Attempts} attempt(s); {Topics} topic subscription(s) restored")]
    public static partial void Reconnected(ILogger logger, Uri uri, int attempts, int topics);

    [LoggerMessage(6, LogLevel.Error, "Gave up reconnecting after {Attempts} attempt(s)")]
    public static partial void GaveUp(ILogger logger, int attempts);

    [LoggerMessage(7, LogLevel.Error, "Restoring the subscription to topic {Topic} failed: {Error}")]
    public static partial void ResubscribeFailed(ILogger logger, string topic, string error);

    [LoggerMessage(8, LogLevel.Error, "A handler ({What}) failed")]
    public static partial void HandlerFailed(ILogger logger, string what, Exception exception);

    [LoggerMessage(9, LogLevel.Warning, "A message from the server was not understood and was ignored: {Problem}")]
    public static partial void BadMessage(ILogger logger, string problem);

    [LoggerMessage(10, LogLevel.Debug, "The server called {Path}, which has no handler: answered NOT_FOUND")]
    public static partial void NoServerCallHandler(ILogger logger, string path);

    [LoggerMessage(11, LogLevel.Warning, "The server answered a notification or an unreadable message with an error: {Code} {Message}")]
    public static partial void UnmatchedError(ILogger logger, string code, string message);
}
