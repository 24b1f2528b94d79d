using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Server.Auth;

/// <summary>
/// The keys of Gateway:Auth:Jwt:JwksUrl: fetched once at start (in the background: a provider that is down must not
/// stop the gateway) and kept in memory; fetched again when a token names a key id not in the set (rotation), at most
/// once per Gateway:Auth:Jwt:RefreshInterval however many such tokens arrive. A failed fetch keeps the last good keys,
/// is logged and counted (<c>gateway_auth_jwks_fetch_errors_total</c>), and is never fatal.
/// </summary>
internal sealed class JwksSource : IDisposable
{
    /// <summary>How long one fetch may take; the handshake deadline (Timeouts:Handshake) bounds a waiting client anyway.</summary>
    internal static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(10);
    private const int MaxDocumentBytes = 1024 * 1024;

    private readonly Uri _url;
    private readonly HttpClient _http;
    private readonly long _minIntervalMs;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _log;
    private readonly object _gate = new();
    private IList<SecurityKey> _keys = [];
    private Task? _fetch;
    private Task? _initial;
    private long _lastStartMs = long.MinValue / 2;

    public JwksSource(Uri url, TimeSpan minInterval, GatewayMetrics metrics, ILogger log, HttpMessageHandler? handler = null)
    {
        _url = url;
        _minIntervalMs = (long)minInterval.TotalMilliseconds;
        _metrics = metrics;
        _log = log;
        _http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        _http.Timeout = FetchTimeout;
        _http.MaxResponseContentBufferSize = MaxDocumentBytes;
    }

    public IList<SecurityKey> Keys => Volatile.Read(ref _keys);

    /// <summary>Starts the first fetch (idempotent).</summary>
    public Task StartAsync()
    {
        lock (_gate) return _initial ??= StartFetchLocked();
    }

    /// <summary>Completes when the first fetch has ended, whatever its outcome: the first handshakes wait for it rather than fail.</summary>
    public Task WhenInitializedAsync(CancellationToken cancellationToken) => StartAsync().WaitAsync(cancellationToken);

    /// <summary>
    /// Fetches again unless a fetch started less than RefreshInterval ago (then returns the running fetch, or nothing:
    /// an attacker sending random kids costs the provider one request per interval). Completes when the keys are current.
    /// </summary>
    public Task RefreshAsync(CancellationToken cancellationToken)
    {
        Task? running;
        lock (_gate)
        {
            if (_fetch is { IsCompleted: false }) running = _fetch;
            else if (Environment.TickCount64 - _lastStartMs < _minIntervalMs) return Task.CompletedTask;
            else running = StartFetchLocked();
        }
        return running.WaitAsync(cancellationToken);
    }

    private Task StartFetchLocked()
    {
        _lastStartMs = Environment.TickCount64;
        return _fetch = FetchAsync();
    }

    private async Task FetchAsync()
    {
        await Task.Yield(); // never run the request on the caller's stack (a handshake, or startup)
        string error;
        try
        {
            using var response = await _http.GetAsync(_url).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                string json = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                if (JwtKeys.ParseJwks(json, out var parseError) is { } keys)
                {
                    Volatile.Write(ref _keys, keys);
                    _metrics.JwksFetched();
                    AuthLog.JwksFetched(_log, _url.ToString(), keys.Count);
                    return;
                }
                error = "the response " + parseError;
            }
            else error = $"HTTP {(int)response.StatusCode}";
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException or InvalidOperationException)
        {
            error = ex is TaskCanceledException ? $"no answer within {FetchTimeout.TotalSeconds:0} s" : ex.Message;
        }
        _metrics.JwksFetchFailed();
        AuthLog.JwksFetchFailed(_log, _url.ToString(), error, Keys.Count);
    }

    public void Dispose() => _http.Dispose();
}
