using Gateway.Protocol.Http;
using Gateway.Server.Auth;
using Gateway.Server.Connections;
using Gateway.Server.Options;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.Http;

/// <summary>
/// The HTTP/1.1 front door of every accepted connection: reads one request, answers the probes (/healthz, /readyz,
/// /metrics), refuses what may not upgrade (unknown path, bad handshake, origin, limits, stopping) with a status and a
/// reason, and hands an accepted upgrade to a <see cref="WebSocketSession"/> running the application of its path.
/// </summary>
internal sealed class HttpFrontDoor
{
    private readonly GatewayOptions _options;
    private readonly IReadOnlyDictionary<string, IWebSocketApplication> _routes;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _log;
    private readonly Admission _admission;
    private readonly PartialMessageGuard _partialGuard;
    private readonly Func<bool> _isReady;
    private readonly StaticFiles? _staticFiles;
    private readonly ConnectionAuthentication _auth;

    public HttpFrontDoor(GatewayOptions options, IReadOnlyDictionary<string, IWebSocketApplication> routes, GatewayMetrics metrics, ILogger log,
        Admission admission, PartialMessageGuard partialGuard, Func<bool> isReady, ConnectionAuthentication auth)
    {
        _auth = auth;
        _options = options;
        _routes = routes;
        _metrics = metrics;
        _log = log;
        _admission = admission;
        _partialGuard = partialGuard;
        _isReady = isReady;
        _deflate = CompressionSetup.Create(options.Compression, metrics, log);
        _staticFiles = StaticFiles.Create(options, metrics, log);
    }

    // permessage-deflate for the clients that offer it; null when Gateway:Compression:Enabled is false or zlib is missing.
    private readonly Gateway.Protocol.Compression.PerMessageDeflate? _deflate;

    /// <summary>
    /// Answers the request, or upgrades it and returns the session with the application to run. The caller runs it, so
    /// that this method's state (the parse loop, the handshake's locals) is gone while the session lives.
    /// </summary>
    public async Task<(WebSocketSession Session, IWebSocketApplication App)?> HandleAsync(GatewayConnection connection)
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
            if (result.IsCompleted || result.IsCanceled) return null;
        }

        if (parsed.Status == HttpParseStatus.Error)
        {
            await RespondAsync(connection, parsed.StatusCode, parsed.Error!, headOnly: false).ConfigureAwait(false);
            return null;
        }

        var request = parsed.Request!;
        string path = request.Path;
        bool isHead = request.MethodBytes.Span.SequenceEqual("HEAD"u8);
        if (ReservedPaths.Contains(path))
        {
            await ProbeAsync(connection, request, path, isHead).ConfigureAwait(false);
            return null;
        }

        if (!_routes.TryGetValue(path, out var app))
        {
            // Files come after the probes and the endpoints, so none can shadow them; same admission as an upgrade.
            if (_staticFiles is not null && !request.ContainsToken("Upgrade"u8, "websocket"u8))
            {
                if (_admission.RefuseForLimits(connection) is { } busy)
                    await RespondAsync(connection, 503, busy, isHead, [new("Retry-After", "5")]).ConfigureAwait(false);
                else
                    await _staticFiles.ServeAsync(connection, request, isHead).ConfigureAwait(false);
                return null;
            }
            await RespondAsync(connection, 404, $"no endpoint at {path}", isHead).ConfigureAwait(false);
            return null;
        }

        var decision = WebSocketHandshake.Evaluate(request, app.Subprotocols);
        if (!decision.Accepted)
        {
            IEnumerable<KeyValuePair<string, string>>? extra = decision.StatusCode == 426 ? [new("Sec-WebSocket-Version", "13")] : null;
            await RespondAsync(connection, decision.StatusCode, decision.Error!, headOnly: false, extra).ConfigureAwait(false);
            return null;
        }
        if (!_admission.IsOriginAllowed(request))
        {
            _metrics.OriginRejected();
            await RespondAsync(connection, 403, "origin not allowed", headOnly: false).ConfigureAwait(false);
            return null;
        }
        if (_admission.RefuseForLimits(connection) is { } full)
        {
            _metrics.ConnectionLimitRejected();
            await RespondAsync(connection, 503, full, headOnly: false, [new("Retry-After", "5")]).ConfigureAwait(false);
            return null;
        }
        if (!_isReady())
        {
            // During the drain the listener stays open for probes; a new session would only be closed 1001 again.
            await RespondAsync(connection, 503, "server is stopping", headOnly: false, [new("Retry-After", "5")]).ConfigureAwait(false);
            return null;
        }
        // Last, so that the cheap refusals above cost no token work; the handshake deadline still runs meanwhile.
        var auth = await _auth.AuthenticateAsync(connection.Id, request, connection.Transport.RemoteEndPoint,
            // Asked for only when someone may wait on it: the token's source would otherwise outlive the handshake for nothing.
            _auth.Mode == AuthMode.None ? CancellationToken.None : connection.Transport.ConnectionClosed).ConfigureAwait(false);
        if (auth.Status != 0)
        {
            await RespondAuthErrorAsync(connection, auth).ConfigureAwait(false);
            return null;
        }

        var compression = CompressionSetup.Negotiate(_deflate, request, connection.Id, _metrics, _log);
        var output = connection.Transport.Output;
        WebSocketHandshake.WriteAccept(output, request, decision.Subprotocol, compression?.Response);
        await output.FlushAsync().ConfigureAwait(false);
        connection.ClearDeadline();
        _metrics.Upgraded();
        if (_metrics.LogBudget.Allow(_log, LogLevel.Debug)) Log.Upgraded(_log, connection.Id, Credentials.RedactTarget(path, request.Query), decision.Subprotocol ?? "(none)");

        var session = new WebSocketSession(connection, request, decision.Subprotocol, _options, _metrics, _log, _partialGuard, _deflate, compression)
        {
            Identity = auth.Identity,
            Authentication = _auth,
            CredentialsExpireAtMs = _auth.ExpiryDeadlineMs(auth.Identity),
        };
        connection.Session = session;
        return (session, app);
    }

    private Task ProbeAsync(GatewayConnection connection, HttpRequestHead request, string path, bool isHead)
    {
        if (!request.IsGet && !isHead)
            return RespondAsync(connection, 405, "only GET and HEAD are allowed here", isHead, [new("Allow", "GET, HEAD")]);
        connection.ClearDeadline();
        bool ready = _isReady();
        return path switch
        {
            ReservedPaths.Health => WriteAndCloseAsync(connection, 200, "ok\n", isHead),
            ReservedPaths.Ready => WriteAndCloseAsync(connection, ready ? 200 : 503, ready ? "ready\n" : "stopping\n", isHead),
            _ => WriteAndCloseAsync(connection, 200, _metrics.ToPrometheus(), isHead, contentType: "text/plain; version=0.0.4; charset=utf-8"),
        };
    }

    private Task RespondAsync(GatewayConnection connection, int status, string reason, bool headOnly, IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        _metrics.HandshakeRejected();
        if (_metrics.LogBudget.Allow(_log, LogLevel.Information)) Log.HandshakeRejected(_log, connection.Id, status, reason);
        return WriteAndCloseAsync(connection, status, reason + "\n", headOnly, headers: headers);
    }

    /// <summary>401/403/429 with a small JSON error body (docs/protocol.md), never naming the token.</summary>
    private Task RespondAuthErrorAsync(GatewayConnection connection, ConnectionAuthentication.Result auth)
    {
        _metrics.HandshakeRejected();
        if (_metrics.LogBudget.Allow(_log, LogLevel.Information)) Log.HandshakeRejected(_log, connection.Id, auth.Status, auth.Message);
        var headers = new List<KeyValuePair<string, string>>();
        if (auth.Status == 401) headers.Add(new("WWW-Authenticate", "Bearer"));
        long retryAfterMs = 0;
        if (auth.Status == 429)
        {
            retryAfterMs = Math.Max(1, (long)Math.Ceiling(auth.RetryAfter.TotalMilliseconds));
            headers.Add(new("Retry-After", Math.Max(1, (long)Math.Ceiling(auth.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        string body = System.Text.Json.JsonSerializer.Serialize(new AuthErrorBody(new AuthError(auth.Code, auth.Message, retryAfterMs > 0 ? retryAfterMs : null)), AuthErrorJson);
        return WriteAndCloseAsync(connection, auth.Status, body, headOnly: false, contentType: "application/json; charset=utf-8", headers: headers);
    }

    private sealed record AuthError(string Code, string Message, long? RetryAfterMs);
    private sealed record AuthErrorBody(AuthError Error);

    private static readonly System.Text.Json.JsonSerializerOptions AuthErrorJson = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        // Messages are the gateway's own text (quotes, '<'): readable as sent, still valid JSON.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private async Task WriteAndCloseAsync(GatewayConnection connection, int status, string body, bool headOnly, string contentType = "text/plain; charset=utf-8", IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        var output = connection.Transport.Output;
        HttpResponse.Write(output, status, body, contentType, headers, includeBody: !headOnly);
        await output.FlushAsync().ConfigureAwait(false);
        await LingeringClose.RunAsync(connection, output.CompleteAsync(), _options.Timeouts.Close).ConfigureAwait(false);
    }
}
