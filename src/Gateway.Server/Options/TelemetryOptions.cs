namespace Gateway.Server.Options;

/// <summary>Gateway:Telemetry: where the host exports OpenTelemetry data. Documented in docs/configuration.md.</summary>
public sealed class TelemetryOptions
{
    /// <summary>OTLP export; off unless <see cref="OtlpOptions.Endpoint"/> is set.</summary>
    public OtlpOptions Otlp { get; set; } = new();
}

/// <summary>Gateway:Telemetry:Otlp: an OpenTelemetry collector (or any OTLP receiver) to push metrics to.</summary>
public sealed class OtlpOptions
{
    /// <summary>The receiver's base address (http://collector:4317 for grpc, http://collector:4318 for http/protobuf); null or empty: no export, nothing registered.</summary>
    public string? Endpoint { get; set; }
    /// <summary><c>grpc</c> or <c>http/protobuf</c> (the names of OTEL_EXPORTER_OTLP_PROTOCOL).</summary>
    public string Protocol { get; set; } = GrpcProtocol;
    /// <summary>How often the metrics are pushed.</summary>
    public TimeSpan ExportInterval { get; set; } = TimeSpan.FromSeconds(15);

    public const string GrpcProtocol = "grpc";
    public const string HttpProtobufProtocol = "http/protobuf";

    /// <summary>True when an export is configured.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Endpoint);

    /// <summary>The endpoint as an absolute http or https URL, or null when it is not one.</summary>
    public Uri? EndpointUri() =>
        Uri.TryCreate(Endpoint?.Trim(), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && string.IsNullOrEmpty(uri.Query) ? uri : null;

    /// <summary>True for <c>http/protobuf</c>, false for <c>grpc</c>; null for anything else.</summary>
    public bool? IsHttpProtobuf() =>
        string.Equals(Protocol?.Trim(), HttpProtobufProtocol, StringComparison.OrdinalIgnoreCase) ? true
        : string.Equals(Protocol?.Trim(), GrpcProtocol, StringComparison.OrdinalIgnoreCase) ? false
        : null;
}
