using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Gateway.Server;

/// <summary>
/// One row of the metric table: its Prometheus name, its System.Diagnostics.Metrics instrument name (null: exported
/// to Prometheus only, like the runtime figures OpenTelemetry gets from the runtime's own meter), its help text and
/// how to read it (one value, or one value per label).
/// </summary>
internal sealed record MetricDefinition(string Name, string? InstrumentName, MetricKind Kind, string Help,
    Func<long>? Value = null, Func<IEnumerable<Measurement<long>>>? Labeled = null)
{
    /// <summary>
    /// Creates the row's observable instrument: it reads the same field /metrics reads, only when a listener collects
    /// (an OpenTelemetry export, dotnet-counters), so the counting on the hot path stays one Interlocked operation.
    /// The description is the row's help text; byte figures get the unit "By".
    /// </summary>
    public void Register(Meter meter)
    {
        if (InstrumentName is null) return;
        string? unit = Unit;
        if (Labeled is { } labeled)
        {
            if (Kind == MetricKind.Counter) meter.CreateObservableCounter(InstrumentName, labeled, unit, Help);
            else meter.CreateObservableUpDownCounter(InstrumentName, labeled, unit, Help);
            return;
        }
        var value = Value!;
        if (Kind == MetricKind.Counter) meter.CreateObservableCounter(InstrumentName, value, unit, Help);
        else meter.CreateObservableUpDownCounter(InstrumentName, value, unit, Help);
    }

    /// <summary>The UCUM unit OpenTelemetry expects: "By" for the rows Prometheus names *_bytes, none for counts.</summary>
    public string? Unit => Name.EndsWith("_bytes", StringComparison.Ordinal) || Name.EndsWith("_bytes_total", StringComparison.Ordinal) ? "By" : null;

    /// <summary>Appends the HELP and TYPE lines and the samples, in text exposition format 0.0.4.</summary>
    public void WritePrometheus(StringBuilder sb)
    {
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {Name} {Help}\n# TYPE {Name} {(Kind == MetricKind.Counter ? "counter" : "gauge")}\n");
        if (Labeled is null)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{Name} {Value!()}\n");
            return;
        }
        foreach (var m in Labeled())
        {
            var tag = m.Tags[0];
            sb.Append(CultureInfo.InvariantCulture, $"{Name}{{{tag.Key}=\"{tag.Value}\"}} {m.Value}\n");
        }
    }
}
