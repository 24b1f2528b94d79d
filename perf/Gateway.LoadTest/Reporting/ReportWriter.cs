using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.LoadTest.Core;

namespace Gateway.LoadTest.Reporting;

/// <summary>Markdown, CSV and (with --json) JSON files, optionally HTML, under the results directory.</summary>
public static class ReportWriter
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    /// <summary>Writes the files; returns their paths.</summary>
    public static IReadOnlyList<string> Write(ScenarioResult r, RunSettings settings)
    {
        string basePath = BasePath(r, settings);
        Directory.CreateDirectory(Path.GetDirectoryName(basePath)!);
        var written = new List<string>();
        void Save(string extension, string content)
        {
            var path = basePath + extension;
            File.WriteAllText(path, content, new UTF8Encoding(false));
            written.Add(path);
        }
        Save(".md", Markdown(r));
        Save(".csv", Csv(r));
        if (settings.WriteJson) Save(".json", Json(r));
        if (settings.WriteHtml) Save(".html", Html(r));
        return written;
    }

    /// <summary>
    /// --out PREFIX gives PREFIX-SCENARIO (a bare name lands in the results directory, a path is used as
    /// given); without it LABEL-SCENARIO-yyyyMMdd-HHmmss in the results directory.
    /// </summary>
    public static string BasePath(ScenarioResult r, RunSettings settings)
    {
        if (settings.OutPrefix is { Length: > 0 } prefix)
        {
            bool isPath = prefix.Contains('/') || prefix.Contains(Path.DirectorySeparatorChar);
            var full = isPath ? Path.GetFullPath(prefix) : Path.Combine(settings.ResultsDirectory, prefix);
            return $"{full}-{r.Scenario}";
        }
        return Path.Combine(settings.ResultsDirectory, $"{Safe(r.Label)}-{r.Scenario}-{r.StartedAt:yyyyMMdd-HHmmss}");
    }

    private static string Safe(string s) => string.Concat(s.Select(ch => char.IsLetterOrDigit(ch) || ch is '-' or '_' or '.' ? ch : '_'));

    public static string Markdown(ScenarioResult r)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# Load test: {r.Label} · {r.Scenario}");
        sb.AppendLine();
        sb.AppendLine($"{r.StartedAt:yyyy-MM-dd HH:mm:ss zzz}, `{r.Url}` ({r.Protocol}), {Environment.ProcessorCount} cores, {Environment.MachineName}, .NET {Environment.Version}");
        sb.AppendLine();
        sb.AppendLine("| parameter | value |");
        sb.AppendLine("|---|---|");
        foreach (var (name, value) in r.Parameters) sb.AppendLine($"| {name} | {Md(value)} |");
        sb.AppendLine($"| simulations | {Md(string.Join("; ", r.Load))} |");
        sb.AppendLine();
        sb.AppendLine("| metric | value |");
        sb.AppendLine("|---|---:|");
        foreach (var (name, value) in ConsoleReport.Rows(r).Skip(2)) sb.AppendLine($"| {name} | {Md(value)} |");
        sb.AppendLine();
        sb.AppendLine("Latency (µs):");
        sb.AppendLine();
        sb.AppendLine("| of | count | min | mean | p50 | p75 | p95 | p99 | max |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        sb.AppendLine(LatencyRow($"OK {r.StepUnit}", r.Latency));
        if (r.ItemLatency is { } items) sb.AppendLine(LatencyRow("items, from subscribe", items));
        foreach (var (_, name, summary) in r.Latencies) sb.AppendLine(LatencyRow(Md(name), summary));
        if (r.Errors.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("| failure | count |");
            sb.AppendLine("|---|---:|");
            foreach (var (reason, count) in r.Errors) sb.AppendLine($"| {Md(reason)} | {Format.Int(count)} |");
        }
        if (r.Notes.Count > 0)
        {
            sb.AppendLine();
            foreach (var note in r.Notes) sb.AppendLine($"- {Md(note)}");
        }
        return sb.ToString();
    }

    private static string LatencyRow(string name, LatencySummary l) =>
        $"| {name} | {Format.Int(l.Count)} | {Format.Us(l.MinUs)} | {Format.Us(l.MeanUs)} | {Format.Us(l.P50Us)} | {Format.Us(l.P75Us)} | {Format.Us(l.P95Us)} | {Format.Us(l.P99Us)} | {Format.Us(l.MaxUs)} |";

    private static string Md(string s) => s.Replace("|", "\\|").Replace("\n", " ");

    private static readonly string[] CsvColumns =
    [
        "label", "scenario", "protocol", "url", "startedAt", "parameters", "durationSeconds", "requests", "ok", "failed", "rps",
        "latencyMinUs", "latencyMeanUs", "latencyP50Us", "latencyP75Us", "latencyP95Us", "latencyP99Us", "latencyMaxUs",
        "items", "itemsPerSecond", "itemLatencyP50Us", "itemLatencyP99Us",
        "bytesIn", "bytesOut", "clientCpuPercent", "clientGen0", "clientGen1", "clientGen2", "clientAllocatedBytes",
        "serverCpuPercent", "serverRssBeforeKb", "serverRssAfterKb", "serverRssPeakKb", "extra",
        "clientCpuSystemPercent", "serverCpuSystemPercent", "machineBusyCores", "otherBusyCores",
        "bytesInUncompressed", "bytesOutUncompressed", "deflateConnections",
    ];

    public static string Csv(ScenarioResult r)
    {
        string D(double v) => v.ToString("0.###", C);
        string N(double? v) => v is { } x ? D(x) : "";
        var values = new[]
        {
            r.Label, r.Scenario, r.Protocol, r.Url, r.StartedAt.ToString("O", C),
            string.Join(" ", r.Parameters.Select(p => $"{p.Name}={p.Value}")),
            D(r.DurationSeconds), r.Requests.ToString(C), r.Ok.ToString(C), r.Failed.ToString(C), D(r.Rps),
            D(r.Latency.MinUs), D(r.Latency.MeanUs), D(r.Latency.P50Us), D(r.Latency.P75Us), D(r.Latency.P95Us), D(r.Latency.P99Us), D(r.Latency.MaxUs),
            r.Items?.ToString(C) ?? "", N(r.ItemsPerSecond), N(r.ItemLatency?.P50Us), N(r.ItemLatency?.P99Us),
            r.BytesIn.ToString(C), r.BytesOut.ToString(C), D(r.ClientCpuPercent),
            r.ClientGen0.ToString(C), r.ClientGen1.ToString(C), r.ClientGen2.ToString(C), r.ClientAllocatedBytes.ToString(C),
            N(r.ServerCpuPercent), r.ServerRssBeforeKb?.ToString(C) ?? "", r.ServerRssAfterKb?.ToString(C) ?? "", r.ServerRssPeakKb?.ToString(C) ?? "",
            string.Join(" ", r.Extra.Select(e => $"{e.Key}={D(e.Value)}")
                .Concat(r.Latencies.SelectMany(l => new[]
                {
                    $"{l.Key}.count={l.Summary.Count}", $"{l.Key}.min={D(l.Summary.MinUs)}", $"{l.Key}.mean={D(l.Summary.MeanUs)}",
                    $"{l.Key}.p50={D(l.Summary.P50Us)}", $"{l.Key}.p75={D(l.Summary.P75Us)}", $"{l.Key}.p95={D(l.Summary.P95Us)}",
                    $"{l.Key}.p99={D(l.Summary.P99Us)}", $"{l.Key}.max={D(l.Summary.MaxUs)}",
                }))),
            D(r.ClientCpuSystemPercent), N(r.ServerCpuSystemPercent), N(r.MachineBusyCores), N(r.OtherBusyCores),
            r.BytesInUncompressed?.ToString(C) ?? "", r.BytesOutUncompressed?.ToString(C) ?? "", r.DeflateConnections?.ToString(C) ?? "",
        };
        return string.Join(",", CsvColumns) + "\n" + string.Join(",", values.Select(CsvField)) + "\n";
    }

    private static string CsvField(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    /// <summary>The machine-readable summary: latencies in microseconds, sizes in bytes, memory in KiB.</summary>
    public static string Json(ScenarioResult r)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("tool", "Gateway.LoadTest");
            w.WriteNumber("schemaVersion", 1);
            w.WriteString("label", r.Label);
            w.WriteString("scenario", r.Scenario);
            w.WriteString("protocol", r.Protocol);
            w.WriteString("url", r.Url);
            w.WriteString("startedAt", r.StartedAt);
            w.WriteString("stepUnit", r.StepUnit);
            w.WriteStartObject("parameters");
            foreach (var (name, value) in r.Parameters) w.WriteString(name, value);
            w.WriteEndObject();
            w.WriteStartArray("load");
            foreach (var l in r.Load) w.WriteStringValue(l);
            w.WriteEndArray();
            w.WriteNumber("durationSeconds", Round(r.DurationSeconds));
            w.WriteNumber("requests", r.Requests);
            w.WriteNumber("ok", r.Ok);
            w.WriteNumber("failed", r.Failed);
            w.WriteNumber("rps", Round(r.Rps));
            w.WriteNumber("okRps", Round(r.OkRps));
            WriteLatency(w, "latencyUs", r.Latency);
            if (r.Items is { } items)
            {
                w.WriteNumber("items", items);
                w.WriteNumber("itemsPerSecond", Round(r.ItemsPerSecond ?? 0));
                WriteLatency(w, "itemLatencyUs", r.ItemLatency ?? LatencySummary.Empty);
            }
            w.WriteNumber("bytesIn", r.BytesIn);
            w.WriteNumber("bytesOut", r.BytesOut);
            if (r.BytesInUncompressed is { } plainIn) w.WriteNumber("bytesInUncompressed", plainIn);
            if (r.BytesOutUncompressed is { } plainOut) w.WriteNumber("bytesOutUncompressed", plainOut);
            if (r.DeflateConnections is { } deflated) w.WriteNumber("deflateConnections", deflated);
            w.WriteNumber("cores", r.Cores);
            w.WriteNumber("clientCpuPercent", Round(r.ClientCpuPercent));
            w.WriteNumber("clientCpuSystemPercent", Round(r.ClientCpuSystemPercent));
            w.WriteStartObject("clientGc");
            w.WriteNumber("gen0", r.ClientGen0);
            w.WriteNumber("gen1", r.ClientGen1);
            w.WriteNumber("gen2", r.ClientGen2);
            w.WriteNumber("allocatedBytes", r.ClientAllocatedBytes);
            w.WriteNumber("sampleStorageBytes", r.ClientSampleBytes);
            w.WriteEndObject();
            if (r.ServerPid is { } pid) w.WriteNumber("serverPid", pid); else w.WriteNull("serverPid");
            WriteNullable(w, "serverCpuPercent", r.ServerCpuPercent is { } c ? Round(c) : null);
            WriteNullable(w, "serverCpuSystemPercent", r.ServerCpuSystemPercent is { } cs ? Round(cs) : null);
            WriteNullable(w, "serverRssBeforeKb", r.ServerRssBeforeKb);
            WriteNullable(w, "serverRssAfterKb", r.ServerRssAfterKb);
            WriteNullable(w, "serverRssPeakKb", r.ServerRssPeakKb);
            WriteNullable(w, "machineCpus", r.MachineCpus);
            WriteNullable(w, "machineBusyCores", r.MachineBusyCores is { } mb ? Round(mb) : null);
            WriteNullable(w, "otherBusyCores", r.OtherBusyCores is { } ob ? Round(ob) : null);
            foreach (var (key, _, value, _) in r.Extra) w.WriteNumber(key, Round(value));
            foreach (var (key, _, summary) in r.Latencies) WriteLatency(w, key, summary);
            w.WriteStartObject("errors");
            foreach (var (reason, count) in r.Errors) w.WriteNumber(reason, count);
            w.WriteEndObject();
            w.WriteStartArray("notes");
            foreach (var n in r.Notes) w.WriteStringValue(n);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static double Round(double v) => Math.Round(v, 3);

    private static void WriteNullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v) w.WriteNumber(name, v); else w.WriteNull(name);
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v) w.WriteNumber(name, v); else w.WriteNull(name);
    }

    private static void WriteLatency(Utf8JsonWriter w, string name, LatencySummary l)
    {
        w.WriteStartObject(name);
        w.WriteNumber("count", l.Count);
        w.WriteNumber("min", Round(l.MinUs));
        w.WriteNumber("mean", Round(l.MeanUs));
        w.WriteNumber("p50", Round(l.P50Us));
        w.WriteNumber("p75", Round(l.P75Us));
        w.WriteNumber("p95", Round(l.P95Us));
        w.WriteNumber("p99", Round(l.P99Us));
        w.WriteNumber("p999", Round(l.P999Us));
        w.WriteNumber("max", Round(l.MaxUs));
        w.WriteEndObject();
    }

    public static string Html(ScenarioResult r)
    {
        string E(string s) => WebUtility.HtmlEncode(s);
        var sb = new StringBuilder();
        sb.AppendLine("<!doctype html><html><head><meta charset=\"utf-8\">");
        sb.AppendLine($"<title>{E(r.Label)} · {E(r.Scenario)}</title>");
        sb.AppendLine("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}td.n{text-align:right}</style></head><body>");
        sb.AppendLine($"<h1>{E(r.Label)} · {E(r.Scenario)}</h1><p>{E(r.StartedAt.ToString("yyyy-MM-dd HH:mm:ss zzz", C))} — {E(r.Url)} ({E(r.Protocol)})</p>");
        sb.AppendLine("<table>");
        foreach (var (name, value) in ConsoleReport.Rows(r)) sb.AppendLine($"<tr><th>{E(name)}</th><td class=\"n\">{E(value)}</td></tr>");
        sb.AppendLine("</table><table><tr><th>latency µs</th><th>count</th><th>min</th><th>mean</th><th>p50</th><th>p75</th><th>p95</th><th>p99</th><th>max</th></tr>");
        void Row(string n, LatencySummary l) =>
            sb.AppendLine($"<tr><th>{E(n)}</th>{string.Concat(new[] { Format.Int(l.Count), Format.Us(l.MinUs), Format.Us(l.MeanUs), Format.Us(l.P50Us), Format.Us(l.P75Us), Format.Us(l.P95Us), Format.Us(l.P99Us), Format.Us(l.MaxUs) }.Select(v => $"<td class=\"n\">{v}</td>"))}</tr>");
        Row($"OK {r.StepUnit}", r.Latency);
        if (r.ItemLatency is { } items) Row("items, from subscribe", items);
        foreach (var (_, name, summary) in r.Latencies) Row(name, summary);
        sb.AppendLine("</table>");
        if (r.Errors.Count > 0)
        {
            sb.AppendLine("<table><tr><th>failure</th><th>count</th></tr>");
            foreach (var (reason, count) in r.Errors) sb.AppendLine($"<tr><td>{E(reason)}</td><td class=\"n\">{Format.Int(count)}</td></tr>");
            sb.AppendLine("</table>");
        }
        foreach (var note in r.Notes) sb.AppendLine($"<p>note: {E(note)}</p>");
        sb.AppendLine("</body></html>");
        return sb.ToString();
    }
}
