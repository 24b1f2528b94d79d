using System.Collections.Concurrent;
using System.Net;

namespace Gateway.Server.Auth;

/// <summary>
/// Failed authentications per IP address in fixed windows (Gateway:Auth:FailureLimit per Gateway:Auth:FailureWindow).
/// An address at the limit is answered 429 before its token is even read, so a password-guessing or token-stuffing
/// client costs a dictionary lookup, not a signature check. The table is bounded: when it is full, expired windows
/// are swept; if it is still full, new addresses are not tracked (failing open beats growing without limit).
/// </summary>
internal sealed class FailureThrottle
{
    internal const int MaxAddresses = 100_000;

    private sealed class Window
    {
        public long StartMs;
        public int Count;
    }

    private readonly ConcurrentDictionary<IPAddress, Window> _windows = new();
    private readonly int _limit;
    private readonly long _windowMs;
    private long _lastSweepMs;

    public FailureThrottle(int limit, TimeSpan window)
    {
        _limit = limit;
        _windowMs = (long)window.TotalMilliseconds;
    }

    public bool Enabled => _limit > 0;

    /// <summary>True when <paramref name="address"/> is at the limit in its current window; <paramref name="retryAfter"/> is what is left of it.</summary>
    public bool IsBlocked(IPAddress? address, out TimeSpan retryAfter, out int failures)
    {
        retryAfter = TimeSpan.Zero;
        failures = 0;
        if (!Enabled || address is null || !_windows.TryGetValue(Normalize(address), out var window)) return false;
        long now = Environment.TickCount64;
        lock (window)
        {
            long left = window.StartMs + _windowMs - now;
            if (left <= 0 || window.Count < _limit) return false;
            failures = window.Count;
            retryAfter = TimeSpan.FromMilliseconds(left);
            return true;
        }
    }

    public void RecordFailure(IPAddress? address)
    {
        if (!Enabled || address is null) return;
        address = Normalize(address);
        long now = Environment.TickCount64;
        if (!_windows.TryGetValue(address, out var window))
        {
            if (_windows.Count >= MaxAddresses && !Sweep(now)) return;
            window = _windows.GetOrAdd(address, static _ => new Window { StartMs = Environment.TickCount64 });
        }
        lock (window)
        {
            if (now - window.StartMs >= _windowMs)
            {
                window.StartMs = now;
                window.Count = 0;
            }
            window.Count++;
        }
    }

    /// <summary>Addresses tracked right now (tests).</summary>
    internal int TrackedAddresses => _windows.Count;

    // At most one sweep per window: a full table of live windows must not turn every failure into a full scan.
    private bool Sweep(long now)
    {
        long last = Volatile.Read(ref _lastSweepMs);
        if (now - last < _windowMs || Interlocked.CompareExchange(ref _lastSweepMs, now, last) != last) return _windows.Count < MaxAddresses;
        foreach (var (address, window) in _windows)
        {
            if (now - Volatile.Read(ref window.StartMs) >= _windowMs) _windows.TryRemove(address, out _);
        }
        return _windows.Count < MaxAddresses;
    }

    // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d: the same address either way.
    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
