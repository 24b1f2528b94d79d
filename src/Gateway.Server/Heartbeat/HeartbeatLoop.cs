using Gateway.Protocol.WebSockets;
using Gateway.Server.Connections;
using Gateway.Server.Options;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.Heartbeat;

/// <summary>
/// One loop for every connection's timers, instead of a timer per socket: each tick (Timeouts:HeartbeatResolution) it
/// closes sessions past Timeouts:ClientTimeout or Timeouts:Idle, sends keep-alive pings, runs the application's
/// per-session tick (RPC deadlines), aborts connections past their deadline (handshake, closing handshake), and
/// reports the per-connection log lines the log budget suppressed.
/// </summary>
internal sealed class HeartbeatLoop
{
    private readonly TimeoutsOptions _timeouts;
    private readonly ConnectionRegistry _registry;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    private readonly Transport.BlockMemoryPool? _pool;
    private long _lastTrim = Environment.TickCount64;

    /// <summary>How often the pipes' block pool lets go of blocks no rent needed since the last time.</summary>
    internal static readonly TimeSpan PoolTrimInterval = TimeSpan.FromSeconds(10);
    /// <summary>Blocks the pool keeps whatever the trim finds (1 MiB): a quiet server still has some at hand.</summary>
    internal const int PoolKeepBlocks = 256;

    public HeartbeatLoop(TimeoutsOptions timeouts, ConnectionRegistry registry, GatewayMetrics metrics, ILogger log, Transport.BlockMemoryPool? pool = null)
    {
        _pool = pool;
        _timeouts = timeouts;
        _registry = registry;
        _metrics = metrics;
        _log = log;
    }

    public void Start() => _loop = RunAsync();

    /// <summary>
    /// How long a client closed for Timeouts:ClientTimeout or Timeouts:Idle gets to answer the close before its socket is
    /// dropped: 1 s (Timeouts:Close if shorter). It has just shown it is not talking to us; the full Timeouts:Close
    /// would keep a dead peer's socket and buffers for seconds more.
    /// </summary>
    private TimeSpan UnresponsiveGrace => _timeouts.Close < MaxUnresponsiveGrace ? _timeouts.Close : MaxUnresponsiveGrace;

    private static readonly TimeSpan MaxUnresponsiveGrace = TimeSpan.FromSeconds(1);

    /// <summary>Stops the loop, then reports what was suppressed after its last tick (the connections dropped at shutdown).</summary>
    public async Task StopAsync()
    {
        _stop.Cancel();
        await _loop.ConfigureAwait(false);
        ReportSuppressed();
        _stop.Dispose();
    }

    private void ReportSuppressed()
    {
        if (_metrics.LogBudget.TakeSuppressed() is > 0 and var suppressed) Log.Suppressed(_log, suppressed);
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(_timeouts.HeartbeatResolution);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                long now = Environment.TickCount64;
                ReportSuppressed();
                if (_pool is not null && now - _lastTrim >= (long)PoolTrimInterval.TotalMilliseconds)
                {
                    _lastTrim = now;
                    _pool.Trim(PoolKeepBlocks);
                }
                long keepAlive = (long)_timeouts.KeepAliveInterval.TotalMilliseconds;
                long clientTimeout = (long)_timeouts.ClientTimeout.TotalMilliseconds;
                long idle = (long)_timeouts.Idle.TotalMilliseconds;
                // Token expiry is wall-clock time (exp is a Unix time): read once per tick, not per connection.
                long unixNowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                foreach (var connection in _registry.Snapshot)
                {
                    try
                    {
                        Tick(connection, now, keepAlive, clientTimeout, idle, unixNowMs);
                    }
                    catch (Exception ex)
                    {
                        // One connection's fault must never stop pings, timeouts and deadlines for everyone else.
                        if (_metrics.LogBudget.Allow(_log, LogLevel.Error)) Log.ConnectionError(_log, connection.Id, ex);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Tick(GatewayConnection connection, long now, long keepAlive, long clientTimeout, long idle, long unixNowMs)
    {
        if (connection.Session is { CloseSent: false } session)
        {
            if (now - connection.Transport.LastReceiveTicks >= clientTimeout)
            {
                _metrics.ClientTimedOut();
                if (_metrics.LogBudget.Allow(_log, LogLevel.Information)) Log.TimedOut(_log, connection.Id, "sent nothing within the client timeout");
                session.Close(CloseCodes.GoingAway, "client timeout", UnresponsiveGrace, DisconnectKind.Timeout);
                return;
            }
            if (idle > 0 && now - Volatile.Read(ref session.LastMessageTicks) >= idle)
            {
                _metrics.IdleTimedOut();
                if (_metrics.LogBudget.Allow(_log, LogLevel.Information)) Log.TimedOut(_log, connection.Id, "sent no message within the idle timeout");
                session.Close(CloseCodes.GoingAway, "idle timeout", UnresponsiveGrace, DisconnectKind.Timeout);
                return;
            }
            if (session.CredentialsExpired(unixNowMs))
            {
                _metrics.AuthExpiredClose();
                if (_metrics.LogBudget.Allow(_log, LogLevel.Information)) Auth.AuthLog.Expired(_log, connection.Id);
                session.Close(Auth.AuthCloseCodes.TokenExpired, "token expired");
                return;
            }
            if (now - session.LastPingTicks >= keepAlive) session.SendPing(now);
            session.Heartbeat?.Invoke(now);
        }
        if (connection.IsPastDeadline(now, out var reason))
        {
            connection.ClearDeadline();
            if (connection.Session is null && reason == "handshake timeout") _metrics.HandshakeTimedOut();
            connection.Transport.Abort(reason ?? "deadline passed");
        }
    }
}
