using System.Net;
using System.Net.Sockets;
using Gateway.Server.Options;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.Transport;

/// <summary>
/// The listening sockets: binds every <c>Listen</c> endpoint, accepts into a bounded number of slots (the connection
/// limit plus its over-limit slots, never more than the descriptors allow), backs off on EMFILE while a descriptor
/// reserve keeps the runtime working, and counts the accepted connections until their sockets are released.
/// Knows nothing about HTTP: each accepted socket goes to the callback given at construction.
/// </summary>
internal sealed class ConnectionListener : IDisposable
{
    private const long AcceptLogIntervalMs = 5000;

    private readonly GatewayOptions _options;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _log;
    private readonly Action<Socket> _accepted;
    private readonly List<Socket> _listeners = new();
    private readonly List<Task> _acceptLoops = new();
    private readonly List<IPEndPoint> _bound = new();
    private readonly CancellationTokenSource _acceptStop = new();
    private readonly TaskCompletionSource _allClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim? _acceptSlots;  // Limit.AcceptLimit of them; null = no limit
    private readonly DescriptorReserve _reserve = new();
    private volatile bool _acceptClosed;
    private int _open;
    private long _lastAcceptErrorLog, _lastAcceptPauseLog;
    private int _acceptErrorsSinceLog;

    public ConnectionListener(GatewayOptions options, GatewayMetrics metrics, ILogger log, Action<Socket> accepted)
    {
        _options = options;
        _metrics = metrics;
        _log = log;
        _accepted = accepted;
        Limit = ConnectionLimit.Compute(options.Limits);
        if (Limit.AcceptLimit > 0) _acceptSlots = new SemaphoreSlim(Limit.AcceptLimit);
    }

    public ConnectionLimit Limit { get; }
    public IReadOnlyList<IPEndPoint> BoundEndPoints => _bound;
    /// <summary>Accepted connections whose socket is not yet released: what Limits:MaxConnections counts.</summary>
    public int OpenConnections => Volatile.Read(ref _open);
    /// <summary>Completes once accepting has stopped and every accepted connection is released.</summary>
    public Task AllClosed => _allClosed.Task;

    /// <summary>Binds every endpoint of <c>Listen</c>; on failure releases what it bound and names the entry.</summary>
    public void Bind()
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
                    // No ReuseAddress: on Linux .NET maps it to SO_REUSEPORT as well, so a second gateway (a stale one, a
                    // mistake) bound the same port and silently took half the connections. The runtime already sets
                    // SO_REUSEADDR, which is what a restart over TIME_WAIT needs.
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
    }

    /// <summary>Takes the descriptor reserve and starts one accept loop per bound socket.</summary>
    public void Start()
    {
        _reserve.TryAcquire();
        Log.ConnectionLimit(_log, Limit.Max, Limit.Source, Limit.AcceptLimit);
        if (Limit.CappedByDescriptors) Log.ConnectionLimitAboveDescriptors(_log, Limit.Max, Limit.Descriptors ?? 0, Limit.AcceptLimit);
        foreach (var l in _listeners)
        {
            Log.Listening(_log, l.LocalEndPoint!);
            _acceptLoops.Add(AcceptLoopAsync(l));
        }
    }

    /// <summary>Counts an accepted connection; returns how many are open with it.</summary>
    public int Opened() => Interlocked.Increment(ref _open);

    /// <summary>A connection's socket is released: its slot takes the next one.</summary>
    public void Released()
    {
        // Count down before freeing the slot: the connection accepted into it must not see this one as still open.
        int left = Interlocked.Decrement(ref _open);
        _acceptSlots?.Release();
        if (left == 0 && _acceptClosed) _allClosed.TrySetResult();
    }

    /// <summary>Stops accepting (what is still in the backlog is reset by the kernel) and waits for the loops to end.</summary>
    public async Task StopAcceptingAsync()
    {
        _acceptStop.Cancel();
        foreach (var l in _listeners) l.Dispose();
        try { await Task.WhenAll(_acceptLoops).ConfigureAwait(false); }
        catch (Exception) { } // the loops end on cancellation or a logged fatal error; nothing is left to report
        _acceptClosed = true;
        if (Volatile.Read(ref _open) == 0) _allClosed.TrySetResult();
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        var endpoint = listener.LocalEndPoint!;
        var token = _acceptStop.Token;
        using var acceptor = new SocketAcceptor();
        int backoffMs = 0;
        while (!token.IsCancellationRequested)
        {
            try
            {
                if (_acceptSlots is { } slots && !slots.Wait(0))
                {
                    // At the limit, stop accepting: the kernel's backlog holds newcomers until a connection ends.
                    // Accepting them only to refuse them would spend the very descriptors the limit protects.
                    _metrics.AcceptPaused();
                    if (TakeLogTurn(ref _lastAcceptPauseLog)) Log.AcceptPaused(_log, endpoint, Limit.AcceptLimit, Limit.Max);
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
                var socket = acceptor.AcceptSocket!;
                if (token.IsCancellationRequested)
                {
                    socket.Dispose();
                    _acceptSlots?.Release();
                    break;
                }
                backoffMs = 0;
                _accepted(socket);
                continue;
            }
            _acceptSlots?.Release();
            if (token.IsCancellationRequested || error == SocketError.OperationAborted) break;
            if (error is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                // EMFILE/ENFILE (or no socket buffers): hand the reserve back so the runtime keeps working, and back
                // off (doubling up to 1 s) until the reserve can be taken again, i.e. until descriptors are free.
                _reserve.Release();
                _metrics.AcceptError(error == SocketError.TooManyOpenSockets ? AcceptErrorReason.TooManyOpenFiles : AcceptErrorReason.NoBufferSpace);
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
            }
            else if (IsTransient(error))
            {
                // A client that gave up before we accepted it, or a network hiccup: the listener is fine.
                _metrics.AcceptError(AcceptErrorReason.Transient);
                LogAcceptError(endpoint, error, 0);
            }
            else
            {
                Log.AcceptFatal(_log, endpoint, new SocketException((int)error));
                break;
            }
        }
    }

    // Accept errors come in storms (20 a second and more): one line per interval, with the count since the last.
    private void LogAcceptError(EndPoint endpoint, SocketError error, int backoffMs)
    {
        int count = Interlocked.Increment(ref _acceptErrorsSinceLog);
        if (!TakeLogTurn(ref _lastAcceptErrorLog)) return;
        count = Interlocked.Exchange(ref _acceptErrorsSinceLog, 0);
        Log.AcceptError(_log, endpoint, error.ToString(), count, Volatile.Read(ref _open), backoffMs);
    }

    private static bool TakeLogTurn(ref long last)
    {
        long now = Environment.TickCount64, seen = Volatile.Read(ref last);
        return (seen == 0 || now - seen >= AcceptLogIntervalMs) && Interlocked.CompareExchange(ref last, now, seen) == seen;
    }

    private static bool IsTransient(SocketError error) => error is SocketError.ConnectionReset or SocketError.ConnectionAborted
        or SocketError.Interrupted or SocketError.TryAgain
        or SocketError.NetworkDown or SocketError.NetworkUnreachable or SocketError.HostUnreachable or SocketError.TimedOut;

    public void Dispose()
    {
        _acceptStop.Dispose();
        _reserve.Dispose();
    }
}
