using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Gateway.Protocol.Http;
using Gateway.Server.Auth;
using Gateway.Server.Connections;
using Gateway.Server.Heartbeat;
using Gateway.Server.Http;
using Gateway.Server.Options;
using Gateway.Server.Transport;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Server;

/// <summary>
/// The socket server: listens on the configured endpoints, accepts connections, runs the HTTP/1.1
/// handshake and hands upgraded connections to the <see cref="IWebSocketApplication"/> mapped to their
/// path. Independent of the generic host so tests and benchmarks can run it directly on port 0.
/// Wires the layers together and owns start and the graceful stop: <see cref="ConnectionListener"/> (transport),
/// <see cref="HttpFrontDoor"/> (probes, admission, upgrade), <see cref="HeartbeatLoop"/> (timeouts, pings, deadlines).
/// </summary>
public sealed class GatewayServer : IAsyncDisposable
{
    private readonly GatewayOptions _options;
    private readonly ILogger _log;
    private readonly ConnectionRegistry _registry = new();
    private readonly ConnectionListener _listener;
    private readonly Admission _admission;
    private readonly HttpFrontDoor _frontDoor;
    private readonly HeartbeatLoop _heartbeat;
    private readonly ConnectionAuthentication _auth;
    private readonly CancellationTokenSource _stopping = new();
    private readonly PipeOptions _inputOptions;
    private readonly PipeOptions _outputOptions;
    private volatile bool _ready;

    /// <inheritdoc cref="ConnectionLimit.OverLimitSlots"/>
    internal const int OverLimitSlots = ConnectionLimit.OverLimitSlots;

    /// <param name="authenticators">The plugins' <see cref="IConnectionAuthenticator"/>s, asked in this order before the built-in JWT check (Gateway:Auth).</param>
    public GatewayServer(GatewayOptions options, IReadOnlyDictionary<string, IWebSocketApplication> routes, GatewayMetrics? metrics = null, ILoggerFactory? loggerFactory = null,
        IEnumerable<IConnectionAuthenticator>? authenticators = null)
        : this(options, routes, metrics, loggerFactory, authenticators, jwksHandler: null)
    {
    }

    /// <summary>As the public constructor; <paramref name="jwksHandler"/> replaces the HTTP stack of the JWKS fetch (tests).</summary>
    internal GatewayServer(GatewayOptions options, IReadOnlyDictionary<string, IWebSocketApplication> routes, GatewayMetrics? metrics, ILoggerFactory? loggerFactory,
        IEnumerable<IConnectionAuthenticator>? authenticators, HttpMessageHandler? jwksHandler)
    {
        var errors = GatewayOptionsValidator.Collect(options);
        if (errors.Count > 0) throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(options));
        _options = options;
        Metrics = metrics ?? new GatewayMetrics();
        Metrics.LogBudget.PerSecond = options.Limits.ClientFaultLogsPerSecond;
        _log = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Gateway.Server");
        var partialGuard = new PartialMessageGuard(options.Limits, _registry, Metrics, _log);
        var pool = BlockPool = new BlockMemoryPool();
        Metrics.ObservePipeBlocks(() => pool.Held, () => pool.Free);
        // Input: bounded so a fast sender cannot make us buffer without limit; the message reader always
        // consumes what it has parsed, so the threshold never has to hold a whole message.
        _inputOptions = new PipeOptions(pool, PipeScheduler.ThreadPool, PipeScheduler.ThreadPool,
            pauseWriterThreshold: 256 * 1024, resumeWriterThreshold: 128 * 1024, minimumSegmentSize: BlockMemoryPool.BlockSize, useSynchronizationContext: false);
        _outputOptions = new PipeOptions(pool, PipeScheduler.ThreadPool, PipeScheduler.ThreadPool,
            pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, minimumSegmentSize: BlockMemoryPool.BlockSize, useSynchronizationContext: false);
        _listener = new ConnectionListener(options, Metrics, _log, socket => _ = ProcessConnectionAsync(socket));
        _admission = new Admission(options);
        _auth = new ConnectionAuthentication(options.Auth, authenticators ?? [], Metrics, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Gateway.Auth"), jwksHandler);
        _frontDoor = new HttpFrontDoor(options, routes, Metrics, _log, _admission, partialGuard, () => _ready, _auth);
        _heartbeat = new HeartbeatLoop(options.Timeouts, _registry, Metrics, _log, pool);
        Metrics.ConnectionLimit = _listener.Limit.Max;
    }

    internal BlockMemoryPool BlockPool { get; }
    public GatewayMetrics Metrics { get; }
    /// <summary>Where the server actually listens (port 0 resolved).</summary>
    public IReadOnlyList<IPEndPoint> BoundEndPoints => _listener.BoundEndPoints;
    public int ConnectionCount => _registry.Count;
    /// <summary>Accepted connections whose socket is not yet released: what Limits:MaxConnections counts.</summary>
    internal int OpenConnections => _listener.OpenConnections;
    /// <summary>The open connections (tests look at one connection's transport state).</summary>
    internal IEnumerable<GatewayConnection> Connections => _registry.Snapshot;
    /// <summary>The connection limit in force: <c>Limits:MaxConnections</c>, or derived from the descriptor limit when that is 0; 0 = none.</summary>
    public int MaxConnections => _listener.Limit.Max;
    /// <summary>True between a successful start and the beginning of stop (what /readyz reports).</summary>
    public bool IsReady => _ready;

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        _listener.Bind();
        // The first SHA-1 loads the crypto library (hundreds of ms on a cold machine): pay it now, not in a client's handshake.
        Span<byte> warm = stackalloc byte[28];
        WebSocketHandshake.ComputeAccept("dGhlIHNhbXBsZSBub25jZQ=="u8, warm);
        // Ready before the first accept: a client must never see "stopping" from a server that is starting.
        _ready = true;
        _auth.Start();
        _heartbeat.Start();
        _listener.Start();
        return Task.CompletedTask;
    }

    private async Task ProcessConnectionAsync(Socket socket)
    {
        int open = _listener.Opened();
        try { socket.NoDelay = true; } catch (SocketException) { } // reset before we got to it: the reads will say so
        var transport = new SocketConnection(socket, _registry.NextId(), _inputOptions, _outputOptions);
        // Counted from accept, not from the upgrade: a connection still in its handshake holds a descriptor too.
        int max = _listener.Limit.Max;
        var connection = new GatewayConnection(transport) { OverLimit = max > 0 && open > max };
        _registry.Add(connection);
        var ip = _admission.Track(transport);
        Metrics.ConnectionOpened();
        if (Metrics.LogBudget.Allow(_log, LogLevel.Debug)) Log.Accepted(_log, connection.Id, transport.RemoteEndPoint);
        try
        {
            connection.SetDeadline(_options.Timeouts.Handshake, "handshake timeout");
            transport.Start();
            if (await _frontDoor.HandleAsync(connection).ConfigureAwait(false) is { } upgraded)
                await upgraded.Session.RunAsync(upgraded.App).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException || (ex is InvalidOperationException && transport.IsAborted))
        {
            // The peer went away or the connection was aborted (a deadline, shutdown): the abort is logged below.
        }
        catch (Exception ex)
        {
            if (Metrics.LogBudget.Allow(_log, LogLevel.Error)) Log.ConnectionError(_log, connection.Id, ex);
        }
        finally
        {
            // One line per dropped connection: thousands of silent sockets timing out at once are a client's doing.
            if (transport.IsAborted && transport.AbortReason is { } reason && Metrics.LogBudget.Allow(_log, LogLevel.Information)) Log.Aborted(_log, connection.Id, reason);
            _registry.Remove(connection);
            _admission.Release(ip);
            await transport.DisposeAsync().ConfigureAwait(false);
            Metrics.ConnectionClosed();
            _listener.Released();
        }
    }

    /// <summary>
    /// Graceful stop: readiness goes to 503; every session refuses new calls (UNAVAILABLE), ends its streams and
    /// gets <c>Timeouts:Shutdown</c> to finish its in-flight requests, while the listeners stay open so probes
    /// see /readyz 503 (and new upgrades get 503). Then the listeners close, a call still running is answered
    /// UNAVAILABLE, and every connection is closed with 1001 and given <c>Timeouts:Close</c> to answer before it is dropped.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_stopping.IsCancellationRequested) return;
        _ready = false;
        _stopping.Cancel();

        var connections = _registry.Snapshot; // ConcurrentDictionary.Values is already a copy
        Log.Stopping(_log, connections.Count);
        await DrainSessionsAsync(connections, cancellationToken).ConfigureAwait(false);

        // The drain is over: stop accepting (what is still in the backlog is reset by the kernel).
        await _listener.StopAcceptingAsync().ConfigureAwait(false);

        foreach (var c in _registry.Snapshot)
        {
            if (c.Session is { } s) s.Close(Protocol.WebSockets.CloseCodes.GoingAway, "server shutting down");
            else c.Transport.Abort("server shutting down");
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The heartbeat keeps running: it enforces each closing handshake's deadline.
        timeout.CancelAfter(_options.Timeouts.Close + _options.Timeouts.HeartbeatResolution + _options.Timeouts.HeartbeatResolution);
        try { await _listener.AllClosed.WaitAsync(timeout.Token).ConfigureAwait(false); }
        catch (OperationCanceledException)
        {
            foreach (var c in _registry.Snapshot) c.Transport.Abort("shutdown timeout");
            try { await _listener.AllClosed.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); }
            catch (TimeoutException) { } // aborted sockets end their loops at once; the host's own timeout is the last word
        }
        await _heartbeat.StopAsync().ConfigureAwait(false);
    }

    private async Task DrainSessionsAsync(ICollection<GatewayConnection> connections, CancellationToken cancellationToken)
    {
        using var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        drain.CancelAfter(_options.Timeouts.Shutdown);
        var draining = new List<Task>();
        foreach (var c in connections)
        {
            if (c.Session is { } s) draining.Add(s.DrainAsync(drain.Token).AsTask());
        }
        try { await Task.WhenAll(draining).WaitAsync(drain.Token).ConfigureAwait(false); }
        catch (OperationCanceledException)
        {
            // Each application answers what it could not finish (UNAVAILABLE) as its token fires: let those
            // answers be queued before the 1001 below, but never wait long for an application that ignores it.
            try { await Task.WhenAll(draining).WaitAsync(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false); }
            catch (Exception) { } // a drain that failed or ignored its token: the 1001 close below ends that session anyway
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _listener.Dispose();
        _auth.Dispose();
    }
}
