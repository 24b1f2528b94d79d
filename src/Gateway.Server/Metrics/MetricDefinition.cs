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
    public void Register(Meter meter)
    {
        if (InstrumentName is null) return;
        if (Labeled is { } labeled)
        {
            if (Kind == MetricKind.Counter) meter.CreateObservableCounter(InstrumentName, labeled);
            else meter.CreateObservableUpDownCounter(InstrumentName, labeled);
            return;
        }
        var value = Value!;
        if (Kind == MetricKind.Counter) meter.CreateObservableCounter(InstrumentName, value);
        else meter.CreateObservableUpDownCounter(InstrumentName, value);
    }

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
