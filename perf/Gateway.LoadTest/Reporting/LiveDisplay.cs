using System.Collections.Concurrent;
using Gateway.LoadTest.Core;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Gateway.LoadTest.Reporting;

/// <summary>
/// What the user sees while a scenario runs: a Spectre.Console live panel on a terminal, or one plain
/// line per second when stdout is redirected or CI=true.
/// </summary>
public sealed class LiveDisplay(bool plain)
{
    private readonly ConcurrentQueue<string> _log = new();
    private readonly List<string> _recent = [];

    public void Log(string message)
    {
        if (plain) Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");
        else _log.Enqueue(message);
    }

    public async Task RunAsync(ScenarioRunner runner, Task run)
    {
        (long, long) last = default;
        if (plain)
        {
            while (!run.IsCompleted)
            {
                await Task.WhenAny(run, Task.Delay(1000));
                if (run.IsCompleted) break;
                Console.WriteLine(Line(runner.Snapshot(ref last)));
            }
            return;
        }
        await AnsiConsole.Live(new Text("starting…")).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).StartAsync(async ctx =>
        {
            while (true)
            {
                ctx.UpdateTarget(Render(runner.Snapshot(ref last)));
                ctx.Refresh();
                if (run.IsCompleted) break;
                await Task.WhenAny(run, Task.Delay(500));
            }
        });
        while (_log.TryDequeue(out var line)) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(line)}[/]");
    }

    private static string Line(ProgressSnapshot s)
    {
        string extras = string.Concat(s.Extras.Select(e => $"  {e.Name} {e.Value}"));
        return $"[{DateTime.Now:HH:mm:ss}] {Phase(s)}  {Elapsed(s)}  users {s.ActiveUsers}  steps {Format.Int(s.Steps)}  failed {Format.Int(s.Failures)}  {Format.Rate(s.StepsPerSecond)}/s{extras}";
    }

    private static string Phase(ProgressSnapshot s) => s.PhaseIndex > 0 ? $"[{s.PhaseIndex}/{s.PhaseCount}] {s.Phase}" : s.Phase;

    private static string Elapsed(ProgressSnapshot s) =>
        s.PhaseLength > TimeSpan.Zero ? $"{s.PhaseElapsed.TotalSeconds:0.0}/{s.PhaseLength.TotalSeconds:0.#}s" : $"{s.PhaseElapsed.TotalSeconds:0.0}s";

    private IRenderable Render(ProgressSnapshot s)
    {
        while (_log.TryDequeue(out var line))
        {
            _recent.Add(line);
            if (_recent.Count > 4) _recent.RemoveAt(0);
        }
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        grid.AddRow("[bold]phase[/]", Markup.Escape(Phase(s)));
        double f = s.PhaseLength > TimeSpan.Zero ? Math.Clamp(s.PhaseElapsed / s.PhaseLength, 0, 1) : 0;
        int filled = (int)(f * 30);
        grid.AddRow("[bold]elapsed[/]", $"[green]{new string('━', filled)}[/][grey]{new string('━', 30 - filled)}[/] {Markup.Escape(Elapsed(s))}");
        grid.AddRow("[bold]active users[/]", s.ActiveUsers.ToString());
        grid.AddRow("[bold]steps[/]", $"{Format.Int(s.Steps)}  ([{(s.Failures > 0 ? "red" : "green")}]{Format.Int(s.Failures)} failed[/])");
        grid.AddRow("[bold]rate[/]", $"{Format.Rate(s.StepsPerSecond)}/s");
        foreach (var (name, value) in s.Extras) grid.AddRow($"[bold]{Markup.Escape(name)}[/]", Markup.Escape(value));
        foreach (var line in _recent) grid.AddRow("[grey]log[/]", $"[grey]{Markup.Escape(line)}[/]");
        return new Panel(grid).Header("Gateway.LoadTest").Border(BoxBorder.Rounded);
    }
}
