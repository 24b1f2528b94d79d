using Spectre.Console;

namespace Gateway.LoadTest.Reporting;

/// <summary>The result table printed at the end of a run.</summary>
public static class ConsoleReport
{
    public static void Write(ScenarioResult r)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(r.Label)} · {Markup.Escape(r.Scenario)}[/]");
        table.AddColumn("metric");
        table.AddColumn(new TableColumn("value").RightAligned());
        foreach (var (name, value) in Rows(r)) table.AddRow(Markup.Escape(name), Markup.Escape(value));
        AnsiConsole.Write(table);

        var lat = new Table().Border(TableBorder.Rounded).Title("latency (µs)");
        lat.AddColumn("of");
        foreach (var h in new[] { "count", "min", "mean", "p50", "p75", "p95", "p99", "max" }) lat.AddColumn(new TableColumn(h).RightAligned());
        lat.AddRow([$"OK {r.StepUnit}", .. LatencyCells(r.Latency)]);
        if (r.ItemLatency is { } items) lat.AddRow(["items, from subscribe", .. LatencyCells(items)]);
        foreach (var (_, name, summary) in r.Latencies) lat.AddRow([Markup.Escape(name), .. LatencyCells(summary)]);
        AnsiConsole.Write(lat);

        if (r.Errors.Count > 0)
        {
            var errors = new Table().Border(TableBorder.Rounded).Title("[red]failures[/]");
            errors.AddColumn("reason");
            errors.AddColumn(new TableColumn("count").RightAligned());
            foreach (var (reason, count) in r.Errors) errors.AddRow(Markup.Escape(reason), Format.Int(count));
            AnsiConsole.Write(errors);
        }
        foreach (var note in r.Notes) AnsiConsole.MarkupLine($"[yellow]note:[/] {Markup.Escape(note)}");
    }

    private static string[] LatencyCells(Core.LatencySummary l) =>
        [Format.Int(l.Count), Format.Us(l.MinUs), Format.Us(l.MeanUs), Format.Us(l.P50Us), Format.Us(l.P75Us), Format.Us(l.P95Us), Format.Us(l.P99Us), Format.Us(l.MaxUs)];

    /// <summary>The headline figures, shared by the console table and the Markdown report.</summary>
    public static IEnumerable<(string Name, string Value)> Rows(ScenarioResult r)
    {
        yield return ("url", $"{r.Url} ({r.Protocol})");
        yield return ("parameters", string.Join(", ", r.Parameters.Select(p => $"{p.Name}={p.Value}")));
        yield return ("measured", $"{Format.Num(r.DurationSeconds, "0.00")} s");
        yield return (r.StepUnit, $"{Format.Int(r.Requests)} ({Format.Int(r.Ok)} OK, {Format.Int(r.Failed)} failed)");
        yield return ($"{r.StepUnit}/s", $"{Format.Rate(r.Rps)} (OK {Format.Rate(r.OkRps)})");
        yield return ("latency p50 / p99", $"{Format.Us(r.Latency.P50Us)} / {Format.Us(r.Latency.P99Us)} µs");
        if (r.Items is { } items)
        {
            yield return ("items", Format.Int(items));
            yield return ("items/s", Format.Rate(r.ItemsPerSecond ?? 0));
        }
        yield return ("bytes in / out", $"{Format.Bytes(r.BytesIn)} / {Format.Bytes(r.BytesOut)} ({Format.Bytes((long)(r.BytesIn / Math.Max(r.DurationSeconds, 1e-9)))}/s in)");
        if (r.BytesInUncompressed is { } plainIn && r.BytesOutUncompressed is { } plainOut)
        {
            yield return ("bytes uncompressed in / out", $"{Format.Bytes(plainIn)} / {Format.Bytes(plainOut)} (wire/uncompressed " +
                $"{Format.Num(plainIn > 0 ? r.BytesIn / (double)plainIn : 1, "0.000")} in, {Format.Num(plainOut > 0 ? r.BytesOut / (double)plainOut : 1, "0.000")} out)");
            yield return ("deflate connections", Format.Int(r.DeflateConnections ?? 0));
        }
        yield return ("client CPU", $"{Format.Pct(r.ClientCpuPercent)} of {r.Cores} cores (kernel {Format.Pct(r.ClientCpuSystemPercent)})");
        yield return ("client GC gen0/1/2", $"{r.ClientGen0}/{r.ClientGen1}/{r.ClientGen2}, allocated {Format.Bytes(r.ClientAllocatedBytes)}" +
            (r.Requests > 0 ? $" ({Format.Num(r.ClientAllocatedBytes / (double)r.Requests, "0.0")} B/{Singular(r.StepUnit)})" : "") +
            (r.ClientSampleBytes > 0 ? $", of which latency sample storage {Format.Bytes(r.ClientSampleBytes)}" : ""));
        if (r.ServerPid is { } pid)
        {
            yield return ("server CPU", r.ServerCpuPercent is { } c
                ? $"{Format.Pct(c)} of {r.Cores} cores (kernel {Format.Pct(r.ServerCpuSystemPercent ?? 0)}; pid {pid})" : "n/a");
            yield return ("server RSS before / after / peak", $"{Format.Kb(r.ServerRssBeforeKb)} / {Format.Kb(r.ServerRssAfterKb)} / {Format.Kb(r.ServerRssPeakKb)}");
        }
        if (r.MachineBusyCores is { } busy)
            yield return ("machine CPU busy (all processes)", $"{Format.Num(busy, "0.00")} of {r.MachineCpus} cores, of which other work {Format.Num(r.OtherBusyCores ?? 0, "0.00")}");
        foreach (var (_, name, _, display) in r.Extra) yield return (name, display);
    }

    private static string Singular(string unit) =>
        unit.EndsWith("shes", StringComparison.Ordinal) ? unit[..^2] : unit.EndsWith('s') ? unit[..^1] : unit;
}
