using Microsoft.Extensions.Options;

namespace Gateway.Server.Options;

/// <summary>
/// Startup validation: every failure names the configuration key, the allowed range and the value found,
/// so a wrong appsettings.json or environment variable stops the server with a message an operator can act on.
/// </summary>
public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions o)
    {
        var errors = Collect(o);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    public static List<string> Collect(GatewayOptions o) => Collect(o, new List<string>());

    /// <summary>The errors, appended to <paramref name="errors"/>; an <see cref="ErrorList"/> also records every key's allowed range.</summary>
    internal static List<string> Collect(GatewayOptions o, List<string> errors)
    {
        const string S = GatewayOptions.SectionName;

        var listen = o.EffectiveListen;
        for (int i = 0; i < listen.Count; i++)
        {
            if (!ListenAddress.TryParse(listen[i] ?? "", out _, out var error))
                errors.Add($"{S}:Listen:{i} is invalid ('{listen[i]}'): {error}.");
        }
        CheckPath(errors, $"{S}:WebSocketPath", o.WebSocketPath, required: true);
        CheckPath(errors, $"{S}:EchoPath", o.EchoPath, required: false);
        if (!string.IsNullOrEmpty(o.EchoPath) && o.EchoPath == o.WebSocketPath)
            errors.Add($"{S}:EchoPath must differ from {S}:WebSocketPath (both are '{o.EchoPath}').");
        foreach (var reserved in ReservedPaths.All)
        {
            if (o.WebSocketPath == reserved) errors.Add($"{S}:WebSocketPath must not be the reserved path '{reserved}'.");
            if (o.EchoPath == reserved) errors.Add($"{S}:EchoPath must not be the reserved path '{reserved}'.");
        }

        Range(errors, $"{S}:Limits:MaxMessageBytes", o.Limits.MaxMessageBytes, 125, 1 << 30);
        Range(errors, $"{S}:Limits:MaxHeaderBytes", o.Limits.MaxHeaderBytes, 256, 1 << 20);
        Range(errors, $"{S}:Limits:MaxHeaderCount", o.Limits.MaxHeaderCount, 4, 1000);

        Range(errors, $"{S}:Limits:MaxInflightPerConnection", o.Limits.MaxInflightPerConnection, 1, 100_000);
        Range(errors, $"{S}:Limits:SendBufferLimitBytes", o.Limits.SendBufferLimitBytes, 4096, 1 << 30);
        if (!Enum.IsDefined(o.Limits.SlowConsumerPolicy))
            errors.Add($"{S}:Limits:SlowConsumerPolicy must be one of {string.Join(", ", Enum.GetNames<SlowConsumerPolicy>())} (got '{o.Limits.SlowConsumerPolicy}').");
        Range(errors, $"{S}:Limits:ClientFaultLogsPerSecond", o.Limits.ClientFaultLogsPerSecond, 0, 1_000_000);
        Range(errors, $"{S}:Limits:MaxConnections", o.Limits.MaxConnections, 0, 10_000_000);
        Range(errors, $"{S}:Limits:MaxConnectionsPerIp", o.Limits.MaxConnectionsPerIp, 0, 10_000_000);
        Range(errors, $"{S}:Timeouts:KeepAliveInterval", o.Timeouts.KeepAliveInterval, TimeSpan.FromMilliseconds(50), TimeSpan.FromHours(1));
        Range(errors, $"{S}:Timeouts:ClientTimeout", o.Timeouts.ClientTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(2));
        if (o.Timeouts.ClientTimeout <= o.Timeouts.KeepAliveInterval)
            errors.Add($"{S}:Timeouts:ClientTimeout must be longer than {S}:Timeouts:KeepAliveInterval (got {o.Timeouts.ClientTimeout:c} and {o.Timeouts.KeepAliveInterval:c}), or every client would time out between two pings.");
        Allowed(errors, $"{S}:Timeouts:Idle", "00:00:00 (off) or between 00:00:00.1000000 and 7.00:00:00");
        if (o.Timeouts.Idle != TimeSpan.Zero) Range(errors, $"{S}:Timeouts:Idle", o.Timeouts.Idle, TimeSpan.FromMilliseconds(100), TimeSpan.FromDays(7));
        if (o.AllowedOrigins is { } origins)
        {
            for (int i = 0; i < origins.Length; i++)
            {
                var origin = origins[i];
                if (origin == "*") continue;
                if (string.IsNullOrWhiteSpace(origin) || !Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.AbsolutePath != "/" || origin.EndsWith('/'))
                    errors.Add($"{S}:AllowedOrigins:{i} must be an origin such as 'https://app.example.com' or 'http://localhost:3000' (scheme, host, optional port; no path), or '*' (got '{origin}').");
            }
        }
        Allowed(errors, $"{S}:Timeouts:Request", "00:00:00 (off) or between 00:00:00.0100000 and 1.00:00:00");
        if (o.Timeouts.Request != TimeSpan.Zero) Range(errors, $"{S}:Timeouts:Request", o.Timeouts.Request, TimeSpan.FromMilliseconds(10), TimeSpan.FromDays(1));
        Range(errors, $"{S}:Timeouts:Shutdown", o.Timeouts.Shutdown, TimeSpan.Zero, TimeSpan.FromHours(1));
        CheckBucket(errors, $"{S}:RateLimits:PerConnection", o.RateLimits.PerConnection);
        foreach (var (name, bucket) in o.RateLimits.Procedures) CheckBucket(errors, $"{S}:RateLimits:Procedures:{name}", bucket);
        Range(errors, $"{S}:RateLimits:MaxRejectionsInRow", o.RateLimits.MaxRejectionsInRow, 0, 1_000_000);
        Range(errors, $"{S}:Limits:MaxBadMessages", o.Limits.MaxBadMessages, 1, 10_000);
        if (string.IsNullOrWhiteSpace(o.Plugins.Path)) errors.Add($"{S}:Plugins:Path must name a folder (default 'plugins').");
        if (StaticFilesOptions.Check(o.StaticFiles) is { } staticFilesError) errors.Add($"{S}:StaticFiles:Path {staticFilesError}");
        if (!JsonOptions.Policies.Contains(o.Json.PropertyNamingPolicy))
            errors.Add($"{S}:Json:PropertyNamingPolicy must be one of {string.Join(", ", JsonOptions.Policies)} (got '{o.Json.PropertyNamingPolicy}').");
        Range(errors, $"{S}:Json:MaxDepth", o.Json.MaxDepth, 1, 256);
        Range(errors, $"{S}:Timeouts:Handshake", o.Timeouts.Handshake, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Range(errors, $"{S}:Timeouts:Close", o.Timeouts.Close, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Range(errors, $"{S}:Timeouts:HeartbeatResolution", o.Timeouts.HeartbeatResolution, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(10));
        Range(errors, $"{S}:Limits:MaxServerCallsPerConnection", o.Limits.MaxServerCallsPerConnection, 1, 100_000);
        // Below one largest message, a single legitimate client sending its largest message would trip the cap.
        if (o.Limits.MaxPartialMessageBytesTotal != 0 && (o.Limits.MaxPartialMessageBytesTotal < o.Limits.MaxMessageBytes || o.Limits.MaxPartialMessageBytesTotal > 1L << 40))
            errors.Add($"{S}:Limits:MaxPartialMessageBytesTotal must be 0 (automatic) or between {S}:Limits:MaxMessageBytes ({o.Limits.MaxMessageBytes}) and {1L << 40} (got {o.Limits.MaxPartialMessageBytesTotal}).");
        Range(errors, $"{S}:Topics:MaxSubscriptionsPerConnection", o.Topics.MaxSubscriptionsPerConnection, 1, 100_000);
        if (o.Topics.ClientSubscribe is { } patterns)
        {
            for (int i = 0; i < patterns.Length; i++)
            {
                if (!Push.TopicNames.IsValidPattern(patterns[i]))
                    errors.Add($"{S}:Topics:ClientSubscribe:{i} must be a topic name or a pattern with '*' (1 to 256 characters, no whitespace or control characters), e.g. 'room:*' (got '{patterns[i]}').");
            }
        }
        if (!Enum.IsDefined(o.Backplane.Type))
            errors.Add($"{S}:Backplane:Type must be one of {string.Join(", ", Enum.GetNames<BackplaneType>())} (got '{o.Backplane.Type}').");
        foreach (var (section, options) in o.Backplane.Sections)
        {
            string path = $"{S}:Backplane:{section.Name}";
            foreach (var (key, allowed) in section.Allowed) Allowed(errors, $"{path}:{key}", allowed);
            section.Validate(options, path, selected: o.Backplane.Type.ToString().Equals(section.Name, StringComparison.OrdinalIgnoreCase), errors);
        }
        Auth.AuthOptionsValidation.Collect(o.Auth, errors);
        CompressionOptions.Collect(o.Compression, errors);
        var otlp = o.Telemetry.Otlp;
        if (otlp.Enabled && otlp.EndpointUri() is null)
            errors.Add($"{S}:Telemetry:Otlp:Endpoint must be an absolute http:// or https:// URL without a query, such as http://otel-collector:4317, or empty for no export (got '{otlp.Endpoint}').");
        if (otlp.IsHttpProtobuf() is null)
            errors.Add($"{S}:Telemetry:Otlp:Protocol must be one of {OtlpOptions.GrpcProtocol}, {OtlpOptions.HttpProtobufProtocol} (got '{otlp.Protocol}').");
        Range(errors, $"{S}:Telemetry:Otlp:ExportInterval", otlp.ExportInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1));
        return errors;
    }

    /// <summary>A list of errors that also remembers, per key, the allowed range the checks applied (for messages about values that did not even parse).</summary>
    internal sealed class ErrorList : List<string>
    {
        public Dictionary<string, string> Allowed { get; } = new(StringComparer.OrdinalIgnoreCase);
    }

    private static void Allowed(List<string> errors, string key, string allowed)
    {
        if (errors is ErrorList list) list.Allowed[key] = allowed;
    }

    internal static void Range(List<string> errors, string key, long value, long min, long max)
    {
        Allowed(errors, key, $"between {min} and {max}");
        if (value < min || value > max) errors.Add($"{key} must be between {min} and {max} (got {value}).");
    }

    internal static void Range(List<string> errors, string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        Allowed(errors, key, $"between {min:c} and {max:c}");
        if (value < min || value > max) errors.Add($"{key} must be between {min:c} and {max:c} (got {value:c}).");
    }

    private static void CheckBucket(List<string> errors, string key, RateLimitOptions bucket)
    {
        Allowed(errors, $"{key}:PermitsPerSecond", "between 0 (no limit) and 1000000");
        if (double.IsNaN(bucket.PermitsPerSecond) || bucket.PermitsPerSecond < 0 || bucket.PermitsPerSecond > 1_000_000)
            errors.Add($"{key}:PermitsPerSecond must be between 0 (no limit) and 1000000 (got {bucket.PermitsPerSecond}).");
        Allowed(errors, $"{key}:Burst", "between 1 and 1000000 when PermitsPerSecond is set");
        if (bucket.PermitsPerSecond > 0) Range(errors, $"{key}:Burst", bucket.Burst, 1, 1_000_000);
    }

    private static void CheckPath(List<string> errors, string key, string? path, bool required)
    {
        if (string.IsNullOrEmpty(path))
        {
            if (required) errors.Add($"{key} is required and must start with '/'.");
            return;
        }
        if (path[0] != '/' || path.Contains('?') || path.Contains('#') || path.Any(c => c <= ' ' || c > '~'))
            errors.Add($"{key} must be an absolute path such as '/ws' without spaces, '?' or '#' (got '{path}').");
    }
}
