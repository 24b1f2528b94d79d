using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Gateway.Server;

/// <summary>
/// Per-procedure metrics: <c>gateway_rpc_calls_total{procedure,code}</c> and <c>gateway_rpc_duration_seconds{procedure}</c>.
/// Cardinality is bounded: the labels are the procedures served (plugins' and built-ins') and one shared
/// <see cref="UnknownLabel"/> for every path that names none. A series appears once its procedure has been called.
/// </summary>
internal sealed class ProcedureMetrics
{
    public const string UnknownLabel = "(unknown)";
    private readonly ProcedureStats[] _all;

    /// <param name="stats">The cells of each procedure served (each procedure holds its own, so counting needs no lookup).</param>
    public ProcedureMetrics(IEnumerable<ProcedureStats> stats)
    {
        _all = stats.OrderBy(s => s.Name, StringComparer.Ordinal).Append(new ProcedureStats(UnknownLabel)).ToArray();
        Unknown = _all[^1];
    }

    /// <summary>The cells of every path that names no procedure.</summary>
    public ProcedureStats Unknown { get; }

    /// <summary>Registers the calls counter with the meter (the durations have no observable form: scraped as Prometheus text).</summary>
    public void Register(Meter meter) => meter.CreateObservableCounter("gateway.rpc.calls", Measurements, description: "RPC calls by procedure and result code.");

    private IEnumerable<Measurement<long>> Measurements()
    {
        foreach (var s in _all)
        {
            for (int c = 0; c < ProcedureStats.CodeCells; c++)
            {
                long v = s.Calls(c);
                if (v != 0) yield return new Measurement<long>(v, new("procedure", s.Name), new("code", ProcedureStats.CodeLabel(c)));
            }
        }
    }

    public void WritePrometheus(StringBuilder sb)
    {
        sb.Append("# HELP gateway_rpc_calls_total RPC calls by procedure and result code (OK or the error code), refused ones included.\n# TYPE gateway_rpc_calls_total counter\n");
        foreach (var s in _all)
        {
            for (int c = 0; c < ProcedureStats.CodeCells; c++)
            {
                long v = s.Calls(c);
                if (v != 0) sb.Append(CultureInfo.InvariantCulture, $"gateway_rpc_calls_total{{procedure=\"{Escape(s.Name)}\",code=\"{ProcedureStats.CodeLabel(c)}\"}} {v}\n");
            }
        }
        sb.Append("# HELP gateway_rpc_duration_seconds Time from dispatch to the terminal reply of calls that ran their handler, by procedure.\n# TYPE gateway_rpc_duration_seconds histogram\n");
        foreach (var s in _all)
        {
            long count = s.Timed;
            if (count == 0) continue;
            string name = Escape(s.Name);
            long cumulative = 0;
            for (int b = 0; b < ProcedureStats.BucketSeconds.Length; b++)
            {
                cumulative += s.Bucket(b);
                sb.Append(CultureInfo.InvariantCulture, $"gateway_rpc_duration_seconds_bucket{{procedure=\"{name}\",le=\"{ProcedureStats.BucketSeconds[b]}\"}} {cumulative}\n");
            }
            cumulative += s.Bucket(ProcedureStats.BucketSeconds.Length);
            // The cells are read one by one while calls go on: +Inf and _count come from the same sum so they agree.
            sb.Append(CultureInfo.InvariantCulture, $"gateway_rpc_duration_seconds_bucket{{procedure=\"{name}\",le=\"+Inf\"}} {cumulative}\n");
            sb.Append(CultureInfo.InvariantCulture, $"gateway_rpc_duration_seconds_sum{{procedure=\"{name}\"}} {s.DurationSeconds}\n");
            sb.Append(CultureInfo.InvariantCulture, $"gateway_rpc_duration_seconds_count{{procedure=\"{name}\"}} {cumulative}\n");
        }
    }

    // Procedure names are letters, digits, '_', '-', '.', '/' and '$': nothing to escape today, but a label value must never break the format.
    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
