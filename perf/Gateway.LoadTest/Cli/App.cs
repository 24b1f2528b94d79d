using System.CommandLine;
using System.Net.Sockets;
using Gateway.LoadTest.Core;
using Gateway.LoadTest.Net;
using Gateway.LoadTest.Reporting;
using Spectre.Console;

namespace Gateway.LoadTest.Cli;

/// <summary>Exit codes: 0 all steps OK, 1 some failed, 2 bad usage, 3 the run could not start (connect, upgrade).</summary>
public static class App
{
    public const int ExitOk = 0, ExitFailures = 1, ExitUsage = 2, ExitCannotRun = 3;

    public static async Task<int> Main(string[] args)
    {
        var common = new CommonOptions();
        var root = new RootCommand(
            "Gateway.LoadTest: load scenarios against the gateway (or a baseline server) over raw WebSocket connections.\n" +
            "Examples:\n" +
            "  Gateway.LoadTest rpc --url ws://127.0.0.1:8080/ws --duration 10s --server-pid 1234 --json\n" +
            "  Gateway.LoadTest stream --connections 10 --items 1000\n" +
            "  Gateway.LoadTest connections --count 10000 --hold 10s --server-pid 1234\n" +
            "  Gateway.LoadTest large --payload 1048576\n" +
            "  Gateway.LoadTest fanout --subscribers 1000 --publishers 1 --inflight 16 --topic room:bench\n" +
            "  Gateway.LoadTest rpc --protocol signalr --url ws://127.0.0.1:5000/hub --label signalr");
        foreach (var option in common.All) root.Add(option);
        foreach (var scenario in ScenarioCatalog.All) root.Add(scenario.CreateCommand(common));
        // Ctrl+C is ours: the first one ends the run early and still reports.
        return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }

    public static async Task<int> RunAsync(ParseResult parse, CommonOptions common, Func<RunSettings, Scenario> create)
    {
        RunSettings settings;
        Scenario scenario;
        try
        {
            settings = common.ToSettings(parse);
            scenario = create(settings);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine("error: " + ex.Message);
            return ExitUsage;
        }
        if (settings.PlainOutput)
        {
            // Redirected or CI: no escape sequences in the log, and tables as wide as they need.
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
                Out = new AnsiConsoleOutput(Console.Out),
            });
            if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
        }

        using var cts = new CancellationTokenSource();
        int interrupts = 0;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (Interlocked.Increment(ref interrupts) > 1) return; // a second Ctrl+C ends the process
            e.Cancel = true;
            cts.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var display = new Reporting.LiveDisplay(settings.PlainOutput);
            var context = new RunContext { Settings = settings, Log = display.Log, Cancellation = cts.Token };
            var runner = new ScenarioRunner(scenario, context);
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(scenario.Name)}[/] → {Markup.Escape(settings.Target.Url.ToString())} ({settings.Target.Protocol.Name}), label [bold]{Markup.Escape(settings.Label)}[/]");
            foreach (var sim in scenario.Load) AnsiConsole.MarkupLine($"  {Markup.Escape(sim.Describe())}");

            var run = runner.RunAsync();
            await display.RunAsync(runner, run);
            ScenarioResult result;
            try
            {
                result = await run;
            }
            catch (Exception ex) when (ex is HandshakeException or SocketException or IOException)
            {
                Console.Error.WriteLine($"error: cannot run against {settings.Target.Url}: {Scenarios.Connector.Describe(ex)}");
                return ExitCannotRun;
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine("error: " + ex.Message);
                return ExitUsage;
            }

            ConsoleReport.Write(result);
            foreach (var path in ReportWriter.Write(result, settings)) AnsiConsole.MarkupLine($"[grey]wrote[/] {Markup.Escape(path)}");
            return result.Failed > 0 ? ExitFailures : ExitOk;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
