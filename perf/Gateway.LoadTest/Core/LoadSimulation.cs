using System.Globalization;

namespace Gateway.LoadTest.Core;

/// <summary>
/// How a scenario's steps are driven, as in NBomber. Closed models run a number of virtual users, each
/// looping over the step; the open model starts steps at a rate whether or not earlier ones finished.
/// <see cref="Record"/> false marks a warm-up: run, but not measured.
/// </summary>
public abstract record LoadSimulation(TimeSpan During)
{
    public bool Record { get; init; } = true;
    public abstract string Describe();
    protected static string T(TimeSpan t) => Durations.Format(t);
}

/// <summary><paramref name="Copies"/> virtual users, each running the step in a loop.</summary>
public sealed record KeepConstant(int Copies, TimeSpan During) : LoadSimulation(During)
{
    public override string Describe() => $"KeepConstant(copies: {Copies}, during: {T(During)}){(Record ? "" : " [warm-up]")}";
}

/// <summary>Linearly moves the number of looping virtual users from the previous simulation's to <paramref name="Copies"/>.</summary>
public sealed record RampingConstant(int Copies, TimeSpan During) : LoadSimulation(During)
{
    public override string Describe() => $"RampingConstant(copies: {Copies}, during: {T(During)}){(Record ? "" : " [warm-up]")}";
}

/// <summary>Open model: starts <paramref name="Rate"/> steps every <paramref name="Interval"/> (spread evenly).</summary>
public sealed record Inject(int Rate, TimeSpan Interval, TimeSpan During) : LoadSimulation(During)
{
    public override string Describe() => $"Inject(rate: {Rate}, interval: {T(Interval)}, during: {T(During)}){(Record ? "" : " [warm-up]")}";
}

/// <summary><paramref name="Copies"/> looping virtual users until <paramref name="Total"/> steps ran (or <paramref name="During"/> passed).</summary>
public sealed record Iterations(int Copies, long Total, TimeSpan During) : LoadSimulation(During)
{
    public override string Describe() => $"Iterations(copies: {Copies}, total: {Total}, at most: {T(During)})";
}

public static class Durations
{
    /// <summary>Parses 10s, 500ms, 2m, 1h, 1.5s, a plain number of seconds, or a TimeSpan (00:00:10).</summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        text = text.Trim().ToLowerInvariant();
        (string suffix, double factor)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, factor) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal) && double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
            {
                value = TimeSpan.FromSeconds(n * factor);
                return true;
            }
        }
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
        {
            value = TimeSpan.FromSeconds(seconds);
            return true;
        }
        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
    }

    public static string Format(TimeSpan t) =>
        t.TotalMilliseconds < 1000 ? $"{t.TotalMilliseconds:0}ms"
        : t.TotalSeconds < 120 ? $"{t.TotalSeconds:0.##}s".Replace(',', '.')
        : $"{t.TotalMinutes:0.##}m".Replace(',', '.');
}

/// <summary>
/// The --load option: a comma-separated list of <c>keep[:COPIES][@TIME]</c>, <c>ramp[:COPIES][@TIME]</c>,
/// <c>inject:RATE[/INTERVAL][@TIME]</c>. COPIES defaults to connections × inflight, TIME to --duration,
/// INTERVAL to 1s. A warm-up of --warmup (not recorded) comes first, shaped like the first step.
/// </summary>
public static class LoadSpec
{
    public static IReadOnlyList<LoadSimulation> Parse(string spec, int defaultCopies, TimeSpan duration, TimeSpan warmup)
    {
        var steps = new List<LoadSimulation>();
        foreach (var raw in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string body = raw;
            TimeSpan during = duration;
            int at = raw.IndexOf('@');
            if (at >= 0)
            {
                if (!Durations.TryParse(raw[(at + 1)..], out during) || during <= TimeSpan.Zero)
                    throw new ArgumentException($"--load: bad time in '{raw}'");
                body = raw[..at];
            }
            var parts = body.Split(':', 2);
            string kind = parts[0].ToLowerInvariant();
            string? arg = parts.Length > 1 ? parts[1] : null;
            switch (kind)
            {
                case "keep":
                case "keep-constant":
                    steps.Add(new KeepConstant(Copies(arg, defaultCopies, raw), during));
                    break;
                case "ramp":
                case "ramping-constant":
                    steps.Add(new RampingConstant(Copies(arg, defaultCopies, raw), during));
                    break;
                case "inject":
                {
                    if (arg is null) throw new ArgumentException($"--load: '{raw}' needs a rate, e.g. inject:5000/1s");
                    var rp = arg.Split('/', 2);
                    if (!int.TryParse(rp[0], NumberStyles.None, CultureInfo.InvariantCulture, out int rate) || rate <= 0)
                        throw new ArgumentException($"--load: bad rate in '{raw}'");
                    var interval = TimeSpan.FromSeconds(1);
                    if (rp.Length > 1 && (!Durations.TryParse(rp[1], out interval) || interval <= TimeSpan.Zero))
                        throw new ArgumentException($"--load: bad interval in '{raw}'");
                    steps.Add(new Inject(rate, interval, during));
                    break;
                }
                default:
                    throw new ArgumentException($"--load: unknown simulation '{kind}' (keep, ramp, inject)");
            }
        }
        if (steps.Count == 0) throw new ArgumentException("--load: empty");
        bool open = steps[0] is Inject;
        if (steps.Any(s => s is Inject != open))
            throw new ArgumentException("--load: inject (open model) cannot be mixed with keep/ramp (closed model) in one run");
        foreach (var s in steps)
        {
            int copies = s switch { KeepConstant k => k.Copies, RampingConstant r => r.Copies, _ => 0 };
            if (copies > defaultCopies)
                throw new ArgumentException($"--load: {copies} copies but only {defaultCopies} request slots (connections × inflight): each virtual user owns one");
        }
        if (warmup > TimeSpan.Zero)
        {
            LoadSimulation first = steps[0] switch
            {
                KeepConstant k => new KeepConstant(k.Copies, warmup),
                Inject i => new Inject(i.Rate, i.Interval, warmup),
                _ => new KeepConstant(1, warmup), // a ramp starts low: warm up with one user
            };
            steps.Insert(0, first with { Record = false });
        }
        return steps;
    }

    private static int Copies(string? arg, int defaultCopies, string raw)
    {
        if (arg is null) return defaultCopies;
        if (!int.TryParse(arg, NumberStyles.None, CultureInfo.InvariantCulture, out int copies) || copies < 0)
            throw new ArgumentException($"--load: bad copies in '{raw}'");
        return copies;
    }
}
