using System.Net;
using System.Net.Sockets;

namespace Gateway.Server.Options;

/// <summary>Everything under the "Gateway" configuration section. Documented in docs/configuration.md.</summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>Endpoints to listen on: "IP:port", "[IPv6]:port", "*:port" (all interfaces, IPv4 and IPv6) or "localhost:port".</summary>
    public string[]? Listen { get; set; }
    /// <summary>Path of the RPC WebSocket endpoint.</summary>
    public string WebSocketPath { get; set; } = "/ws";
    /// <summary>Path of the echo endpoint (off when null or empty): echoes every message, for conformance tests and transport benchmarks.</summary>
    public string? EchoPath { get; set; }
    public LimitsOptions Limits { get; set; } = new();
    public TimeoutsOptions Timeouts { get; set; } = new();
    public PluginsOptions Plugins { get; set; } = new();
    /// <summary>Origins allowed to open a WebSocket (exact, case-insensitive, e.g. "https://app.example.com"; "*" = any). Empty = any. A request without Origin (a non-browser client) is always allowed.</summary>
    public string[]? AllowedOrigins { get; set; }
    public JsonOptions Json { get; set; } = new();
    public RateLimitsOptions RateLimits { get; set; } = new();
    public TopicsOptions Topics { get; set; } = new();
    public BackplaneOptions Backplane { get; set; } = new();
    /// <summary>Files the front door serves to plain GETs (the demo, a web app); off unless a folder is given.</summary>
    public StaticFilesOptions StaticFiles { get; set; } = new();
    /// <summary>Authentication at the handshake (Auth/AuthOptions.cs).</summary>
    public AuthOptions Auth { get; set; } = new();
    /// <summary>permessage-deflate (Gateway:Compression).</summary>
    public CompressionOptions Compression { get; set; } = new();
    /// <summary>The console log's format (Text or Json); read by the host.</summary>
    public LoggingOptions Logging { get; set; } = new();
    /// <summary>OpenTelemetry export (OTLP); read by the host.</summary>
    public TelemetryOptions Telemetry { get; set; } = new();

    public static readonly string[] DefaultListen = ["0.0.0.0:8080"];
    public IReadOnlyList<string> EffectiveListen => Listen is { Length: > 0 } ? Listen : DefaultListen;
}

public sealed class LimitsOptions
{
    /// <summary>Largest message (all fragments together) a client may send; larger closes with 1009.</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;
    /// <summary>Largest HTTP request head (request line and headers) accepted before the upgrade.</summary>
    public int MaxHeaderBytes { get; set; } = 8 * 1024;
    /// <summary>Most header lines accepted in the HTTP request head.</summary>
    public int MaxHeaderCount { get; set; } = 64;
    /// <summary>Requests a connection may have running at once; at the limit the server stops reading that socket until one finishes.</summary>
    public int MaxInflightPerConnection { get; set; } = 256;
    /// <summary>Unparseable envelopes in a row after which the connection is closed with 1008.</summary>
    public int MaxBadMessages { get; set; } = 10;
    /// <summary>Bytes queued for a connection but not yet sent; over it, replies wait and stream items/progress follow SlowConsumerPolicy.</summary>
    public int SendBufferLimitBytes { get; set; } = 1024 * 1024;
    /// <summary>What happens to stream items and progress for a consumer over SendBufferLimitBytes: DropNewest or Close.</summary>
    public SlowConsumerPolicy SlowConsumerPolicy { get; set; } = SlowConsumerPolicy.DropNewest;
    /// <summary>Log lines per second about misbehaving clients (bad handshakes, protocol errors, bad envelopes); the rest are counted and summarized. 0 = no limit.</summary>
    public int ClientFaultLogsPerSecond { get; set; } = 20;
    /// <summary>
    /// Open TCP connections, counted from accept; past it, upgrades get 503 and then accepting pauses.
    /// 0 = derived from the file descriptor limit (docs/configuration.md), or none where that is unknown.
    /// </summary>
    public int MaxConnections { get; set; }
    /// <summary>Open TCP connections from one IP address; past it, upgrades from that address get 503. 0 = no limit.</summary>
    public int MaxConnectionsPerIp { get; set; }
    /// <summary>Server-to-client calls waiting for one connection's answer; past it, IConnections.CallAsync fails with RESOURCE_EXHAUSTED.</summary>
    public int MaxServerCallsPerConnection { get; set; } = 64;
    /// <summary>
    /// Bytes all connections together may hold in incomplete messages (fragments and frames still arriving); over it
    /// the connections holding the most are closed with 1009. 0 (the default) = a quarter of the memory the GC may use
    /// (GCMemoryInfo.TotalAvailableMemoryBytes: the container or DOTNET_GCHeapHardLimit limit when there is one),
    /// and never less than MaxMessageBytes.
    /// </summary>
    public long MaxPartialMessageBytesTotal { get; set; }

    /// <summary>MaxPartialMessageBytesTotal with 0 resolved against the memory this process may use.</summary>
    public long EffectiveMaxPartialMessageBytesTotal => MaxPartialMessageBytesTotal > 0
        ? MaxPartialMessageBytesTotal
        : Math.Max(MaxMessageBytes, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4);
}

public sealed class TopicsOptions
{
    /// <summary>
    /// Topics clients may join with $subscribe: exact names or patterns where '*' stands for any run of characters
    /// (e.g. "room:*", "ticker"). Empty (the default) = none; plugins' ITopicPolicy may allow more, or deny.
    /// </summary>
    public string[]? ClientSubscribe { get; set; }
    /// <summary>Topics one connection may be subscribed to at once (client and server subscriptions together).</summary>
    public int MaxSubscriptionsPerConnection { get; set; } = 100;
}

public enum BackplaneType
{
    /// <summary>In-process only: one node, no broker.</summary>
    InMemory,
    /// <summary>Redis pub/sub: several nodes behind a load balancer share topics, users and connections.</summary>
    Redis,
}

public sealed class BackplaneOptions
{
    /// <summary>InMemory (the default: a single node) or Redis.</summary>
    /// <remarks>
    /// A broker's own settings (Gateway:Backplane:Redis) belong to its assembly: it registers a
    /// <see cref="Gateway.Backplane.BackplaneOptionsSection"/> and <see cref="GatewayConfigurationReader"/> checks them with the rest.
    /// </remarks>
    public BackplaneType Type { get; set; } = BackplaneType.InMemory;

    /// <summary>The brokers' sections as <see cref="GatewayConfigurationReader"/> bound them, for <see cref="GatewayOptionsValidator"/>. Not configuration keys.</summary>
    internal List<(Gateway.Backplane.BackplaneOptionsSection Section, object Options)> Sections { get; } = [];
}

/// <summary>A token bucket: PermitsPerSecond refill, Burst capacity. PermitsPerSecond 0 = no limit.</summary>
public sealed class RateLimitOptions
{
    public double PermitsPerSecond { get; set; }
    public int Burst { get; set; }
}

public sealed class RateLimitsOptions
{
    /// <summary>Calls (requests and notifications) per connection.</summary>
    public RateLimitOptions PerConnection { get; set; } = new();
    /// <summary>Per procedure name (e.g. "echo/echo"), per connection, on top of PerConnection.</summary>
    public Dictionary<string, RateLimitOptions> Procedures { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Rate-limited calls in a row after which the connection is closed with 1008; 0 = never.</summary>
    public int MaxRejectionsInRow { get; set; } = 100;
}

public enum SlowConsumerPolicy
{
    /// <summary>Drop the item that does not fit (counted per connection); the stream goes on.</summary>
    DropNewest,
    /// <summary>Close the connection with 1008; nothing more is written, so no gap goes unseen.</summary>
    Close,
}

public sealed class PluginsOptions
{
    /// <summary>Folder holding one subfolder per plugin (relative to the working directory).</summary>
    public string Path { get; set; } = "plugins";
}

public sealed class JsonOptions
{
    /// <summary>Naming of handler input/output members: CamelCase (web default), None, SnakeCaseLower, SnakeCaseUpper, KebabCaseLower, KebabCaseUpper.</summary>
    public string PropertyNamingPolicy { get; set; } = "CamelCase";
    /// <summary>Deepest nesting accepted in a message (the envelope object counts as 1); the envelope parser and the input deserializer both follow it.</summary>
    public int MaxDepth { get; set; } = 64;

    public static readonly string[] Policies = ["CamelCase", "None", "SnakeCaseLower", "SnakeCaseUpper", "KebabCaseLower", "KebabCaseUpper"];

    /// <summary>System.Text.Json web defaults with this section applied.</summary>
    public System.Text.Json.JsonSerializerOptions ToSerializerOptions()
    {
        var o = new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web)
        {
            MaxDepth = MaxDepth is >= 1 and <= 256 ? MaxDepth : 64,
            PropertyNamingPolicy = PropertyNamingPolicy switch
            {
                "None" => null,
                "SnakeCaseLower" => System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
                "SnakeCaseUpper" => System.Text.Json.JsonNamingPolicy.SnakeCaseUpper,
                "KebabCaseLower" => System.Text.Json.JsonNamingPolicy.KebabCaseLower,
                "KebabCaseUpper" => System.Text.Json.JsonNamingPolicy.KebabCaseUpper,
                _ => System.Text.Json.JsonNamingPolicy.CamelCase,
            },
            TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        o.MakeReadOnly();
        return o;
    }
}

public sealed class TimeoutsOptions
{
    /// <summary>Time a client has to send its whole HTTP request head (slowloris protection).</summary>
    public TimeSpan Handshake { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>After the server sends a close frame (or an HTTP error), how long it waits for the peer to finish before dropping the socket.</summary>
    public TimeSpan Close { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>How often the single heartbeat loop checks every connection's deadlines.</summary>
    public TimeSpan HeartbeatResolution { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>How often the server pings each WebSocket client.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>A client that sent nothing at all (no frame, no pong) for this long is closed.</summary>
    public TimeSpan ClientTimeout { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>Default deadline of a request (DEADLINE_EXCEEDED past it); zero (the default) = none. [Rpc(TimeoutMs=…)] overrides it.</summary>
    public TimeSpan Request { get; set; } = TimeSpan.Zero;
    /// <summary>On stop: how long in-flight requests get to finish before every connection is closed with 1001.</summary>
    public TimeSpan Shutdown { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>A client that sent no data message for this long is closed; zero (the default) turns it off.</summary>
    public TimeSpan Idle { get; set; } = TimeSpan.Zero;
}

/// <summary>Parses "Listen" entries into endpoints.</summary>
public static class ListenAddress
{
    /// <summary>
    /// Whether ::1 can be bound here. A container with IPv6 disabled by sysctl still reports
    /// <see cref="Socket.OSSupportsIPv6"/> (the socket family exists) but has no IPv6 loopback, so <c>localhost</c> must
    /// not ask for it there: it would stop the server at startup instead of listening on 127.0.0.1 alone.
    /// </summary>
    public static bool IPv6LoopbackUsable => s_ipv6Loopback.Value;

    private static readonly Lazy<bool> s_ipv6Loopback = new(() =>
    {
        if (!Socket.OSSupportsIPv6) return false;
        try
        {
            using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    });

    public static bool TryParse(string value, out IPEndPoint[] endpoints, out string? error)
    {
        endpoints = [];
        error = null;
        value = value.Trim();
        int colon = value.LastIndexOf(':');
        if (colon <= 0 || colon == value.Length - 1)
        {
            error = "expected HOST:PORT such as 0.0.0.0:8080, [::]:8080, *:8080 or localhost:8080";
            return false;
        }
        string host = value.Substring(0, colon);
        if (!int.TryParse(value.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port) || port > 65535)
        {
            error = "port must be a number from 0 to 65535";
            return false;
        }
        if (host == "*" || host == "+")
        {
            endpoints = [new IPEndPoint(IPAddress.IPv6Any, port)];
            return true;
        }
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            endpoints = IPv6LoopbackUsable
                ? [new IPEndPoint(IPAddress.Loopback, port), new IPEndPoint(IPAddress.IPv6Loopback, port)]
                : [new IPEndPoint(IPAddress.Loopback, port)];
            return true;
        }
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        if (!IPAddress.TryParse(host, out var address))
        {
            error = $"'{host}' is not an IP address, '*' or 'localhost'";
            return false;
        }
        endpoints = [new IPEndPoint(address, port)];
        return true;
    }
}
