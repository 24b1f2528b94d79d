using System.Runtime.CompilerServices;
using Gateway.Server;
using Gateway.Server.Options;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Gateway.Host;

/// <summary>
/// OpenTelemetry export, only when Gateway:Telemetry:Otlp:Endpoint is set: the "Gateway" meter (every figure of
/// /metrics that is the gateway's own, from the same table) and the runtime's "System.Runtime" meter (GC, heap,
/// working set: the counterparts of the dotnet_* and process_* lines of /metrics), pushed over OTLP; and the spans of the
/// "Gateway" ActivitySource (a span per call, server-to-client call and publish), to the same collector. Without the key
/// nothing is registered: no listener is attached to the meters or the source, so their callbacks never run and no span
/// is ever created.
/// </summary>
internal static class GatewayTelemetry
{
    public const string ServiceName = "gateway";

    public static void Add(IServiceCollection services, IConfiguration configuration, NodeIdEnricher node)
    {
        var otlp = new OtlpOptions();
        // A wrong value registers nothing: the options validation names it and stops the host before it starts.
        try { configuration.GetSection($"{GatewayOptions.SectionName}:Telemetry:Otlp").Bind(otlp, o => o.ErrorOnUnknownConfiguration = false); }
        catch (InvalidOperationException) { return; }
        if (!otlp.Enabled || otlp.EndpointUri() is not { } endpoint || otlp.IsHttpProtobuf() is not { } http) return;
        if (otlp.ExportInterval < TimeSpan.FromMilliseconds(100) || otlp.ExportInterval > TimeSpan.FromHours(1)) return;
        Register(services, endpoint, http, otlp.ExportInterval, node);
    }

    // Gateway.Server's GatewayTracing.SourceName (internal there); the OTLP test fails if the two ever disagree.
    private const string TraceSourceName = "Gateway";

    // Apart, so a host without the key never even loads the OpenTelemetry assemblies.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Register(IServiceCollection services, Uri endpoint, bool http, TimeSpan interval, NodeIdEnricher node)
    {
        string version = typeof(GatewayMetrics).Assembly.GetName().Version?.ToString() ?? "unknown";
        services.AddOpenTelemetry()
            // Read when the provider is built (the host starting), after the node has its id.
            .ConfigureResource(resource => resource.AddService(ServiceName, serviceVersion: version,
                serviceInstanceId: node.NodeId ?? Environment.MachineName))
            .WithMetrics(metrics => metrics
                .AddMeter(GatewayMetrics.MeterName, "System.Runtime")
                .AddOtlpExporter((exporter, reader) =>
                {
                    exporter.Protocol = http ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                    // Set in code, the exporter uses the address as given; OTEL_EXPORTER_OTLP_ENDPOINT's convention (a
                    // base address, the signal's path appended for http/protobuf) is the one operators know, so it is kept.
                    exporter.Endpoint = http ? new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/v1/metrics") : endpoint;
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)interval.TotalMilliseconds;
                    // Prometheus-style backends (and the dashboard in docker/grafana) expect cumulative counters.
                    reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
                }))
            .WithTracing(tracing => tracing
                .AddSource(TraceSourceName)
                .AddOtlpExporter(exporter =>
                {
                    exporter.Protocol = http ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                    exporter.Endpoint = http ? new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/v1/traces") : endpoint;
                    // Spans are batched (the default processor) so a call never waits for the collector.
                }));
    }
}
