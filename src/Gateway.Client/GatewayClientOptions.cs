using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Gateway.Client;

/// <summary>The wire format a <see cref="GatewayClient"/> speaks.</summary>
public enum GatewayWireFormat
{
    /// <summary><c>gateway.v1.json</c>: text frames, one JSON envelope each.</summary>
    Json,

    /// <summary>
    /// <c>gateway.v1.msgpack</c>: binary frames, one MessagePack map each. Values map as in JSON (objects are maps keyed by
    /// their JSON property names, per <see cref="GatewayClientOptions.JsonSerializerOptions"/>), except that <c>byte[]</c>
    /// is bin and <c>DateTime</c>/<c>DateTimeOffset</c> the timestamp extension: the same typed inputs and outputs work.
    /// </summary>
    MessagePack,
}

/// <summary>Settings of a <see cref="GatewayClient"/>. Read when the client is created; later changes have no effect.</summary>
public sealed class GatewayClientOptions
{
    /// <summary>
    /// The gateway's RPC endpoint(s), e.g. <c>ws://localhost:8080/ws</c>. With several, the first connection goes to the
    /// first, and each reconnect attempt moves on to the next (so a client leaves a node that went down).
    /// </summary>
    public IList<Uri> Uris { get; } = new List<Uri>();

    /// <summary>The wire format (JSON by default).</summary>
    public GatewayWireFormat Format { get; set; } = GatewayWireFormat.Json;

    /// <summary>
    /// How inputs, results, event data and server-call inputs are (de)serialized. Defaults to
    /// <see cref="JsonSerializerDefaults.Web"/> (camelCase, case-insensitive), the gateway's own naming.
    /// </summary>
    public JsonSerializerOptions JsonSerializerOptions { get; set; } = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// Asked for an access token before every connection attempt (the first and each reconnect), so an expired token is
    /// never reused; the token is sent as <c>Authorization: Bearer {token}</c>. Null or empty: no header.
    /// </summary>
    public Func<CancellationToken, ValueTask<string?>>? AccessTokenProvider { get; set; }

    /// <summary>Extra headers of the upgrade request.</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Further settings of each <see cref="ClientWebSocket"/> (proxy, certificates, cookies), applied on every attempt.</summary>
    public Action<ClientWebSocketOptions>? ConfigureWebSocket { get; set; }

    /// <summary>How long one connection attempt (TCP, TLS and the upgrade) may take. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The timeout of a call that names none (<see cref="CallOptions.Timeout"/>); null (the default) = none, the server's
    /// deadline applies. At the timeout the call is cancelled on the wire and fails with <c>DEADLINE_EXCEEDED</c>.
    /// </summary>
    public TimeSpan? DefaultCallTimeout { get; set; }

    /// <summary>Reconnect settings (on by default).</summary>
    public ReconnectOptions Reconnect { get; } = new();

    /// <summary>
    /// Interval of the client's own WebSocket pings; with <see cref="KeepAliveTimeout"/> they detect a connection that died
    /// without a FIN (a cable pulled, a NAT that forgot us). Default 15 s.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the client waits for the pong of its ping before it drops the connection and reconnects. Default 15 s.</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The largest message the client accepts; a bigger one closes the connection with 1009. Default 16 MiB.</summary>
    public int MaxMessageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// How many items a stream may hold that its reader has not taken yet. Past it the stream fails with
    /// <c>RESOURCE_EXHAUSTED</c> and is cancelled on the wire, instead of buffering without bound. Default 10000.
    /// </summary>
    public int MaxBufferedStreamItems { get; set; } = 10_000;

    /// <summary>Where the client logs connects, reconnects, handler failures (category <c>Gateway.Client</c>). Null: no logging.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }
}

/// <summary>
/// Reconnecting after a lost connection: exponential backoff with jitter and a cap. Attempt n waits a random time between
/// half and all of <c>min(MaxDelay, InitialDelay · Multiplier^n)</c>; after a 1001 (a node shutting down for a deploy) the
/// first attempt is immediate.
/// </summary>
public sealed class ReconnectOptions
{
    /// <summary>Whether the client reconnects at all (default true).</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>The delay before the first attempt. Default 200 ms.</summary>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromMilliseconds(200);
    /// <summary>The cap of the delay between attempts. Default 30 s.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>The growth of the delay per attempt. Default 2.</summary>
    public double Multiplier { get; set; } = 2.0;
    /// <summary>How many attempts before the client gives up and closes; 0 (the default) = never give up.</summary>
    public int MaxAttempts { get; set; }
}

/// <summary>Per-call settings.</summary>
public readonly record struct CallOptions
{
    /// <summary>
    /// The call's timeout: at the deadline it is cancelled on the wire (<c>{"id","cancel":true}</c>) and fails with an
    /// <see cref="RpcException"/> <c>DEADLINE_EXCEEDED</c>. Null: <see cref="GatewayClientOptions.DefaultCallTimeout"/>.
    /// </summary>
    public TimeSpan? Timeout { get; init; }
}
