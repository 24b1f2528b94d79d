using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Gateway.Protocol.Http;
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
/// </summary>
public sealed class GatewayServer : IAsyncDisposable
{
    private readonly GatewayOptions _options;
    private readonly IReadOnlyDictionary<string, IWebSocketApplication> _routes;
    private readonly ILogger _log;
    private readonly ConnectionRegistry _registry = new();
    private readonly PartialMessageGuard _partialGuard;
    private readonly List<Socket> _listeners = new();
    private readonly List<Task> _acceptLoops = new();
    private readonly List<IPEndPoint> _bound = new();
    private readonly CancellationTokenSource _stopping = new();
    // Accepting outlives the start of the stop: the listener keeps answering probes until the drain ends.
    private readonly CancellationTokenSource _acceptStop = new();
    private volatile bool _acceptClosed;
    private readonly CancellationTokenSource _heartbeatStop = new();
    private readonly PipeOptions _inputOptions;
    private readonly PipeOptions _outputOptions;
    private readonly TaskCompletionSource _allClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _heartbeat = Task.CompletedTask;
    private volatile bool _ready;
    private int _inflightConnections;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<IPAddress, int> _perIp = new();

    /// <summary>
    /// Connections accepted past <c>Limits:MaxConnections</c> only to be answered (503 for an upgrade, health
    /// endpoints as usual); past these too, accepting pauses and the kernel's listen backlog holds newcomers.
    /// </summary>
    internal const int OverLimitSlots = 32;
    private readonly int _maxConnections;          // 0 = no limit
    private readonly string _maxConnectionsSource;
    private readonly long? _descriptorLimit;
    private readonly SemaphoreSlim? _acceptSlots;  // _acceptLimit of them; null = no limit
    private readonly int _acceptLimit;             // MaxConnections + OverLimitSlots, at most what the descriptors allow
    private readonly DescriptorReserve _reserve = new();
    private long _lastAcceptErrorLog, _lastAcceptPauseLog;
    private int _acceptErrorsSinceLog;
    private const long AcceptLogIntervalMs = 5000;

    public GatewayServer(GatewayOptions options, IReadOnlyDictionary<string, IWebSocketApplication> routes, GatewayMetrics? metrics = null, ILoggerFactory? loggerFactory = null)
    {
        var errors = GatewayOptionsValidator.Collect(options);
        if (errors.Count > 0) throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(options));
        _options = options;
        _routes = routes;
        Metrics = metrics ?? new GatewayMetrics();
        Metrics.ClientFaultLogsPerSecond = options.Limits.ClientFaultLogsPerSecond;
        _log = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Gateway.Server");
        _partialGuard = new PartialMessageGuard(options.Limits, _registry, Metrics, _log);
        var pool = new BlockMemoryPool();
        // Input: bounded so a fast sender cannot make us buffer without limit; the message reader always
        // consumes what it has parsed, so the threshold never has to hold a whole message.
        _inputOptions = new PipeOptions(pool, PipeScheduler.ThreadPool, PipeScheduler.ThreadPool,
            pauseWriterThreshold: 256 * 1024, resumeWriterThreshold: 128 * 1024, minimumSegmentSize: BlockMemoryPool.BlockSize, useSynchronizationContext: false);
        _outputOptions = new PipeOptions(pool, PipeScheduler.ThreadPool, PipeScheduler.ThreadPool,
            pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, minimumSegmentSize: BlockMemoryPool.BlockSize, useSynchronizationContext: false);

        // Created after the plugins are loaded (the host builds the server last), so the descriptors open now
        // include theirs.
        _descriptorLimit = DescriptorLimit.SoftLimit();
        int? open = DescriptorLimit.OpenNow();
        int? budget = DescriptorLimit.ConnectionBudget(_descriptorLimit, open, DescriptorReserve.Size);
        if (options.Limits.MaxConnections > 0)
        {
            _maxConnections = options.Limits.MaxConnections;
            _maxConnectionsSource = $"{GatewayOptions.SectionName}:Limits:MaxConnections";
        }
        else if (budget is { } b)
        {
            _maxConnections = Math.Max(DescriptorLimit.Minimum, b - OverLimitSlots);
            _maxConnectionsSource = $"from the descriptor limit: {_descriptorLimit} - {open ?? 0} open - {DescriptorLimit.Headroom} headroom - {OverLimitSlots} over-limit slots - {DescriptorReserve.Size} reserve";
        }
        else
        {
            _maxConnectionsSource = "0 = none: the descriptor limit is unknown or unlimited";
        }
        long acceptLimit = _maxConnections > 0 ? (long)_maxConnections + OverLimitSlots : long.MaxValue;
        // Never more connections than descriptors, whatever Limits:MaxConnections says.
        if (budget is { } fit && fit < acceptLimit) acceptLimit = fit;
        if (acceptLimit < int.MaxValue)
        {
            _acceptLimit = (int)acceptLimit;
            _acceptSlots = new SemaphoreSlim(_acceptLimit);
        }
        Metrics.ConnectionLimit = _maxConnections;
    }

    public GatewayMetrics Metrics { get; }
    /// <summary>Where the server actually listens (port 0 resolved).</summary>
    public IReadOnlyList<IPEndPoint> BoundEndPoints => _bound;
    public int ConnectionCount => _registry.Count;
    /// <summary>Accepted connections whose socket is not yet released: what Limits:MaxConnections counts.</summary>
    internal int OpenConnections => Volatile.Read(ref _inflightConnections);
    /// <summary>The open connections (tests look at one connection's transport state).</summary>
    internal IEnumerable<GatewayConnection> Connections => _registry.All;
    /// <summary>The connection limit in force: <c>Limits:MaxConnections</c>, or derived from the descriptor limit when that is 0; 0 = none.</summary>
    public int MaxConnections => _maxConnections;
    /// <summary>True between a successful start and the beginning of stop (what /readyz reports).</summary>
    public bool IsReady => _ready;

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        foreach (var entry in _options.EffectiveListen)
        {
            ListenAddress.TryParse(entry, out var endpoints, out _);
            foreach (var ep in endpoints)
            {
                var socket = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    if (ep.AddressFamily == AddressFamily.InterNetworkV6 && ep.Address.Equals(IPAddress.IPv6Any)) socket.DualMode = true;
                    if (!OperatingSystem.IsWindows()) socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                    socket.Bind(ep);
                    socket.Listen(1024);
                }
                catch (SocketException ex)
                {
                    socket.Dispose();
                    foreach (var l in _listeners) l.Dispose();
                    throw new InvalidOperationException($"Cannot listen on {ep} (from {GatewayOptions.SectionName}:Listen '{entry}'): {ex.Message}", ex);
                }
                _listeners.Add(socket);
                _bound.Add((IPEndPoint)socket.LocalEndPoint!);
            }
        }
        // The first SHA-1 loads the crypto library (hundreds of ms on a cold machine): pay it now, not in a client's handshake.
        Span<byte> warm = stackalloc byte[28];
        WebSocketHandshake.ComputeAccept("dGhlIHNhbXBsZSBub25jZQ=="u8, warm);
        // Ready before the first accept: a client must never see "stopping" from a server that is starting.
        _ready = true;
        _reserve.TryAcquire();
        Log.ConnectionLimit(_log, _maxConnections, _maxConnectionsSource, _acceptLimit);
        if (_maxConnections > 0 && _acceptLimit < _maxConnections + OverLimitSlots)
            Log.ConnectionLimitAboveDescriptors(_log, _maxConnections, _descriptorLimit ?? 0, _acceptLimit);
        _heartbeat = HeartbeatLoopAsync();
        foreach (var l in _listeners)
        {
            Log.Listening(_log, l.LocalEndPoint!);
            _acceptLoops.Add(AcceptLoopAsync(l));
        }
        return Task.CompletedTask;
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        var endpoint = listener.LocalEndPoint!;
        var token = _acceptStop.Token;
        using var acceptor = new SocketAcceptor();
        int backoffMs = 0;
        while (!token.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                if (_acceptSlots is { } slots && !slots.Wait(0))
                {
                    // At the limit, stop accepting: the kernel's backlog holds newcomers until a connection ends.
                    // Accepting them only to refuse them would spend the very descriptors the limit protects.
                    Metrics.AcceptPaused();
                    if (TakeLogTurn(ref _lastAcceptPauseLog)) Log.AcceptPaused(_log, endpoint, _acceptLimit, _maxConnections);
                    await slots.WaitAsync(token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
            SocketError error;
            try
            {
                error = await acceptor.AcceptAsync(listener).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                _acceptSlots?.Release();
                break;
            }
            if (error == SocketError.Success)
            {
                socket = acceptor.AcceptSocket!;
                if (token.IsCancellationRequested)
                {
                    socket.Dispose();
                    _acceptSlots?.Release();
                    break;
                }
            }
            else if (token.IsCancellationRequested || error == SocketError.OperationAborted)
            {
                _acceptSlots?.Release();
                break;
            }
            else if (error is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                // EMFILE/ENFILE (or no socket buffers): hand the reserve back so the runtime keeps working, and back
                // off (doubling up to 1 s) until the reserve can be taken again, i.e. until descriptors are free.
                _acceptSlots?.Release();
                _reserve.Release();
                Metrics.AcceptError(error == SocketError.TooManyOpenSockets ? AcceptErrorReason.TooManyOpenFiles : AcceptErrorReason.NoBufferSpace);
                backoffMs = Math.Clamp(backoffMs * 2, 10, 1000);
                LogAcceptError(endpoint, error, backoffMs);
                try
                {
                    do
                    {
                        await Task.Delay(backoffMs, token).ConfigureAwait(false);
                        backoffMs = Math.Min(backoffMs * 2, 1000);
                    }
                    while (!_reserve.TryAcquire());
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                continue;
            }
            else if (IsTransient(error))
            {
                // A client that gave up before we accepted it, or a network hiccup: the listener is fine.
                _acceptSlots?.Release();
                Metrics.AcceptError(AcceptErrorReason.Transient);
                LogAcceptError(endpoint, error, 0);
                continue;
            }
            else
            {
                _acceptSlots?.Release();
                Log.AcceptFatal(_log, endpoint, new SocketException((int)error));
                break;
            }
            backoffMs = 0;
            _ = ProcessConnectionAsync(socket);
        }
    }

    // Accept errors come in storms (20 a second and more): one line per interval, with the count since the last.
    private void LogAcceptError(EndPoint endpoint, SocketError error, int backoffMs)
    {
        int count = Interlocked.Increment(ref _acceptErrorsSinceLog);
        if (!TakeLogTurn(ref _lastAcceptErrorLog)) return;
        count = Interlocked.Exchange(ref _acceptErrorsSinceLog, 0);
        Log.AcceptError(_log, endpoint, error.ToString(), count, Volatile.Read(ref _inflightConnections), backoffMs);
    }

    private static bool TakeLogTurn(ref long last)
    {
        long now = Environment.TickCount64, seen = Volatile.Read(ref last);
        return (seen == 0 || now - seen >= AcceptLogIntervalMs) && Interlocked.CompareExchange(ref last, now, seen) == seen;
    }

    private static bool IsTransient(SocketError error) => error is SocketError.ConnectionReset or SocketError.ConnectionAborted
        or SocketError.Interrupted or SocketError.TryAgain
        or SocketError.NetworkDown or SocketError.NetworkUnreachable or SocketError.HostUnreachable or SocketError.TimedOut;

    private async Task ProcessConnectionAsync(Socket socket)
    {
        int open = Interlocked.Increment(ref _inflightConnections);
        try { socket.NoDelay = true; } catch (SocketException) { } // reset before we got to it: the reads will say so
        var transport = new SocketConnection(socket, _registry.NextId(), _inputOptions, _outputOptions);
        // Counted from accept, not from the upgrade: a connection still in its handshake holds a descriptor too.
        var connection = new GatewayConnection(transport) { OverLimit = _maxConnections > 0 && open > _maxConnections };
        _registry.Add(connection);
        var ip = ClientAddress(transport);
        if (ip is not null) _perIp.AddOrUpdate(ip, 1, static (_, n) => n + 1);
        Metrics.ConnectionOpened();
        if (Metrics.AllowClientFaultLog(_log, LogLevel.Debug)) Log.Accepted(_log, connection.Id, transport.RemoteEndPoint);
        try
        {
            connection.SetDeadline(_options.Timeouts.Handshake, "handshake timeout");
            transport.Start();
            await HandleAsync(connection).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException || (ex is InvalidOperationException && transport.IsAborted))
        {
        }
        catch (Exception ex)
        {
            if (Metrics.AllowClientFaultLog(_log, LogLevel.Error)) Log.ConnectionError(_log, connection.Id, ex);
        }
        finally
        {
            // One line per dropped connection: thousands of silent sockets timing out at once are a client's doing.
            if (transport.IsAborted && transport.AbortReason is { } reason && Metrics.AllowClientFaultLog(_log, LogLevel.Information)) Log.Aborted(_log, connection.Id, reason);
            _registry.Remove(connection);
            if (ip is not null) ReleaseAddress(ip);
            await transport.DisposeAsync().ConfigureAwait(false);
            Metrics.ConnectionClosed();
            // Count down before freeing the slot: the connection accepted into it must not see this one as still open.
            int left = Interlocked.Decrement(ref _inflightConnections);
            _acceptSlots?.Release();
            if (left == 0 && _acceptClosed) _allClosed.TrySetResult();
        }
    }

    private static IPAddress? ClientAddress(SocketConnection transport)
    {
        var address = transport.RemoteEndPoint?.Address;
        return address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;
    }

    private void ReleaseAddress(IPAddress ip)
    {
        while (_perIp.TryGetValue(ip, out int n))
        {
            if (n <= 1 ? _perIp.TryRemove(new KeyValuePair<IPAddress, int>(ip, n)) : _perIp.TryUpdate(ip, n - 1, n)) return;
        }
    }

    private bool IsOriginAllowed(HttpRequestHead request)
    {
        var allowed = _options.AllowedOrigins;
        if (allowed is not { Length: > 0 } || !request.TryGet("Origin"u8, out var origin)) return true;
        foreach (var entry in allowed)
        {
            if (entry == "*") return true;
            if (origin.Length == entry.Length && System.Text.Ascii.EqualsIgnoreCase(origin, entry)) return true;
        }
        return false;
    }

    private async Task HandleAsync(GatewayConnection connection)
    {
        var input = connection.Transport.Input;
        HttpParseResult parsed;
        while (true)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            parsed = HttpRequestParser.TryParse(ref buffer, _options.Limits.MaxHeaderBytes, _options.Limits.MaxHeaderCount);
            if (parsed.Status == HttpParseStatus.Done)
            {
                input.AdvanceTo(buffer.Start);
                break;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (parsed.Status == HttpParseStatus.Error) break;
            // Gone before finishing its request (a timeout is counted by the heartbeat that enforced it).
            if (result.IsCompleted || result.IsCanceled) return;
        }

        if (parsed.Status == HttpParseStatus.Error)
        {
            await RespondAsync(connection, parsed.StatusCode, parsed.Error!, headOnly: false).ConfigureAwait(false);
            return;
        }

        var request = parsed.Request!;
        string path = request.Path;
        bool isHead = request.MethodBytes.Span.SequenceEqual("HEAD"u8);
        if (path is "/healthz" or "/readyz" or "/metrics")
        {
            if (!request.IsGet && !isHead)
            {
                await RespondAsync(connection, 405, "only GET and HEAD are allowed here", isHead, [new("Allow", "GET, HEAD")]).ConfigureAwait(false);
                return;
            }
            connection.ClearDeadline();
            switch (path)
            {
                case "/healthz":
                    await WriteAndCloseAsync(connection, 200, "ok\n", isHead).ConfigureAwait(false);
                    return;
                case "/readyz":
                    await WriteAndCloseAsync(connection, _ready ? 200 : 503, _ready ? "ready\n" : "stopping\n", isHead).ConfigureAwait(false);
                    return;
                default:
                    await WriteAndCloseAsync(connection, 200, Metrics.ToPrometheus(), isHead, contentType: "text/plain; version=0.0.4; charset=utf-8").ConfigureAwait(false);
                    return;
            }
        }

        if (!_routes.TryGetValue(path, out var app))
        {
            await RespondAsync(connection, 404, $"no endpoint at {path}", isHead).ConfigureAwait(false);
            return;
        }

        var decision = WebSocketHandshake.Evaluate(request, app.Subprotocols);
        if (!decision.Accepted)
        {
            IEnumerable<KeyValuePair<string, string>>? extra = decision.StatusCode == 426 ? [new("Sec-WebSocket-Version", "13")] : null;
            await RespondAsync(connection, decision.StatusCode, decision.Error!, headOnly: false, extra).ConfigureAwait(false);
            return;
        }
        if (!IsOriginAllowed(request))
        {
            Metrics.OriginRejected();
            await RespondAsync(connection, 403, "origin not allowed", headOnly: false).ConfigureAwait(false);
            return;
        }
        int maxPerIp = _options.Limits.MaxConnectionsPerIp;
        var address = ClientAddress(connection.Transport);
        if (connection.OverLimit ||
            (maxPerIp > 0 && address is not null && _perIp.TryGetValue(address, out int fromIp) && fromIp > maxPerIp))
        {
            Metrics.ConnectionLimitRejected();
            await RespondAsync(connection, 503, connection.OverLimit ? "connection limit reached" : "too many connections from this address", headOnly: false,
                [new("Retry-After", "5")]).ConfigureAwait(false);
            return;
        }
        if (!_ready)
        {
            // During the drain the listener stays open for probes; a new session would only be closed 1001 again.
            await RespondAsync(connection, 503, "server is stopping", headOnly: false, [new("Retry-After", "5")]).ConfigureAwait(false);
            return;
        }

        var output = connection.Transport.Output;
        WebSocketHandshake.WriteAccept(output, request, decision.Subprotocol);
        await output.FlushAsync().ConfigureAwait(false);
        connection.ClearDeadline();
        Metrics.Upgraded();
        if (Metrics.AllowClientFaultLog(_log, LogLevel.Debug)) Log.Upgraded(_log, connection.Id, path, decision.Subprotocol ?? "(none)");

        var session = new WebSocketSession(connection, request, decision.Subprotocol, _options, Metrics, _log, _partialGuard);
        connection.Session = session;
        await session.RunAsync(app).ConfigureAwait(false);
    }

    private Task RespondAsync(GatewayConnection connection, int status, string reason, bool headOnly, IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        Metrics.HandshakeRejected();
        if (Metrics.AllowClientFaultLog(_log, LogLevel.Information)) Log.HandshakeRejected(_log, connection.Id, status, reason);
        return WriteAndCloseAsync(connection, status, reason + "\n", headOnly, headers: headers);
    }

    private async Task WriteAndCloseAsync(GatewayConnection connection, int status, string body, bool headOnly, string contentType = "text/plain; charset=utf-8", IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        var output = connection.Transport.Output;
        HttpResponse.Write(output, status, body, contentType, headers, includeBody: !headOnly);
        await output.FlushAsync().ConfigureAwait(false);
        await output.CompleteAsync().ConfigureAwait(false);
        // Same lingering close as a WebSocket session: let the response reach the client before the socket goes.
        connection.SetDeadline(_options.Timeouts.Close, "peer did not close in time");
        await connection.Transport.SendCompleted.ConfigureAwait(false);
        var input = connection.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted || result.IsCanceled) return;
        }
    }

    // One loop for every connection's deadlines, instead of a timer per socket.
    private async Task HeartbeatLoopAsync()
    {
        using var timer = new PeriodicTimer(_options.Timeouts.HeartbeatResolution);
        try
        {
            while (await timer.WaitForNextTickAsync(_heartbeatStop.Token).ConfigureAwait(false))
            {
                long now = Environment.TickCount64;
                if (Metrics.TakeSuppressed() is > 0 and var suppressed) Log.Suppressed(_log, suppressed);
                long keepAlive = (long)_options.Timeouts.KeepAliveInterval.TotalMilliseconds;
                long clientTimeout = (long)_options.Timeouts.ClientTimeout.TotalMilliseconds;
                long idle = (long)_options.Timeouts.Idle.TotalMilliseconds;
                foreach (var connection in _registry.Snapshot)
                {
                    try
                    {
                        Tick(connection, now, keepAlive, clientTimeout, idle);
                    }
                    catch (Exception ex)
                    {
                        // One connection's fault must never stop pings, timeouts and deadlines for everyone else.
                        if (Metrics.AllowClientFaultLog(_log, LogLevel.Error)) Log.ConnectionError(_log, connection.Id, ex);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Tick(GatewayConnection connection, long now, long keepAlive, long clientTimeout, long idle)
    {
        if (connection.Session is { CloseSent: false } session)
        {
            if (now - Volatile.Read(ref connection.Transport.LastReceiveTicks) >= clientTimeout)
            {
                Metrics.ClientTimedOut();
                if (Metrics.AllowClientFaultLog(_log, LogLevel.Information)) Log.TimedOut(_log, connection.Id, "sent nothing within the client timeout");
                session.Close(Protocol.WebSockets.CloseCodes.GoingAway, "client timeout");
                return;
            }
            if (idle > 0 && now - Volatile.Read(ref session.LastMessageTicks) >= idle)
            {
                Metrics.IdleTimedOut();
                if (Metrics.AllowClientFaultLog(_log, LogLevel.Information)) Log.TimedOut(_log, connection.Id, "sent no message within the idle timeout");
                session.Close(Protocol.WebSockets.CloseCodes.GoingAway, "idle timeout");
                return;
            }
            if (now - session.LastPingTicks >= keepAlive) session.SendPing(now);
            session.Heartbeat?.Invoke(now);
        }
        if (connection.IsPastDeadline(now, out var reason))
        {
            connection.ClearDeadline();
            if (connection.Session is null && reason == "handshake timeout") Metrics.HandshakeTimedOut();
            connection.Transport.Abort(reason ?? "deadline passed");
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

        var connections = _registry.Snapshot.ToList();
        Log.Stopping(_log, connections.Count);
        using (var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
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
                catch (Exception) { }
            }
        }

        // The drain is over: stop accepting (what is still in the backlog is reset by the kernel).
        _acceptStop.Cancel();
        foreach (var l in _listeners) l.Dispose();
        try { await Task.WhenAll(_acceptLoops).ConfigureAwait(false); } catch { }
        _acceptClosed = true;

        foreach (var c in _registry.Snapshot)
        {
            if (c.Session is { } s) s.Close(Protocol.WebSockets.CloseCodes.GoingAway, "server shutting down");
            else c.Transport.Abort("server shutting down");
        }
        if (Volatile.Read(ref _inflightConnections) == 0) _allClosed.TrySetResult();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The heartbeat keeps running: it enforces each closing handshake's deadline.
        timeout.CancelAfter(_options.Timeouts.Close + _options.Timeouts.HeartbeatResolution + _options.Timeouts.HeartbeatResolution);
        try { await _allClosed.Task.WaitAsync(timeout.Token).ConfigureAwait(false); }
        catch (OperationCanceledException)
        {
            foreach (var c in _registry.Snapshot) c.Transport.Abort("shutdown timeout");
            try { await _allClosed.Task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); } catch (TimeoutException) { }
        }
        _heartbeatStop.Cancel();
        try { await _heartbeat.ConfigureAwait(false); } catch { }
        // Lines suppressed after the heartbeat's last report (the connections dropped at shutdown) still get their summary.
        if (Metrics.TakeSuppressed() is > 0 and var suppressed) Log.Suppressed(_log, suppressed);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _acceptStop.Dispose();
        _heartbeatStop.Dispose();
        _reserve.Dispose();
    }
}
