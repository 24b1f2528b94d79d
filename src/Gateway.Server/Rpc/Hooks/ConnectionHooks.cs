using Microsoft.Extensions.Logging;

namespace Gateway.Server.Rpc;

/// <summary>
/// Runs the plugins' <see cref="IConnectionHandler"/>s: every handler in registration order, each one's exception logged
/// with the connection id and counted, never passed on. Connect hooks run before the connection's first message is read;
/// disconnect hooks on the thread pool once the connection has ended, tracked so a graceful stop can wait for them.
/// </summary>
internal sealed class ConnectionHooks(IConnectionHandler[] handlers, ILogger logger, GatewayMetrics? metrics)
{
    private readonly object _gate = new();
    private int _running;
    private TaskCompletionSource? _idle;

    public IReadOnlyList<IConnectionHandler> Handlers => handlers;

    public async ValueTask ConnectedAsync(RpcConnection connection, HookConnectionContext context)
    {
        foreach (var handler in handlers)
        {
            try { await handler.OnConnectedAsync(context).ConfigureAwait(false); }
            catch (Exception ex) { Failed(connection, handler, nameof(IConnectionHandler.OnConnectedAsync), ex); }
        }
    }

    /// <summary>Starts the disconnect hooks in the background; the caller (the session's teardown) does not wait.</summary>
    public void Disconnected(RpcConnection connection, HookConnectionContext context, DisconnectReason reason)
    {
        lock (_gate) _running++;
        _ = Task.Run(async () =>
        {
            try
            {
                foreach (var handler in handlers)
                {
                    try { await handler.OnDisconnectedAsync(context, reason).ConfigureAwait(false); }
                    catch (Exception ex) { Failed(connection, handler, nameof(IConnectionHandler.OnDisconnectedAsync), ex); }
                }
            }
            finally
            {
                TaskCompletionSource? idle = null;
                lock (_gate)
                {
                    if (--_running == 0) (idle, _idle) = (_idle, null);
                }
                idle?.TrySetResult();
            }
        });
    }

    /// <summary>Completes when no disconnect hook is running (or <paramref name="cancellationToken"/> fires: then logs how many are left).</summary>
    public async Task WaitIdleAsync(CancellationToken cancellationToken)
    {
        Task wait;
        lock (_gate)
        {
            if (_running == 0) return;
            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _idle.Task;
        }
        try { await wait.WaitAsync(cancellationToken).ConfigureAwait(false); }
        catch (OperationCanceledException)
        {
            AuthzLog.HooksStillRunning(logger, Volatile.Read(ref _running));
        }
    }

    private void Failed(RpcConnection connection, IConnectionHandler handler, string hook, Exception ex)
    {
        metrics?.ConnectionHookFailed();
        if (connection.Faults.MayLog(LogLevel.Error)) AuthzLog.HookFailed(logger, connection.Session.Id, handler.GetType().FullName ?? handler.GetType().Name, hook, ex);
    }
}
