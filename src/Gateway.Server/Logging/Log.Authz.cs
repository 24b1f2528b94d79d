using Microsoft.Extensions.Logging;

namespace Gateway.Server;

/// <summary>Authorization, call filters and connection hooks (Rpc/Authorization/, Rpc/Filters/, Rpc/Hooks/). Event ids 640-669.</summary>
internal static partial class AuthzLog
{
    [LoggerMessage(640, LogLevel.Debug, "[{ConnectionId}] {Path} refused with {Code}: {Reason}")]
    public static partial void Denied(ILogger logger, long connectionId, string path, string code, string reason);

    [LoggerMessage(641, LogLevel.Error, "[{ConnectionId}] authorization policy for {Path} failed")]
    public static partial void PolicyFailed(ILogger logger, long connectionId, string path, Exception exception);

    [LoggerMessage(642, LogLevel.Error, "[{ConnectionId}] connection handler {Handler}.{Hook} failed")]
    public static partial void HookFailed(ILogger logger, long connectionId, string handler, string hook, Exception exception);

    [LoggerMessage(643, LogLevel.Information, "Authorization: {Guarded} of {Total} procedures guarded; policies: {Policies}")]
    public static partial void AuthorizationSummary(ILogger logger, int guarded, int total, string policies);

    [LoggerMessage(644, LogLevel.Information, "Call filters, outermost first: {Filters}")]
    public static partial void Filters(ILogger logger, string filters);

    [LoggerMessage(645, LogLevel.Information, "Connection handlers: {Handlers}")]
    public static partial void Handlers(ILogger logger, string handlers);

    [LoggerMessage(646, LogLevel.Warning, "Stopping with {Count} disconnect hooks still running")]
    public static partial void HooksStillRunning(ILogger logger, int count);
}
