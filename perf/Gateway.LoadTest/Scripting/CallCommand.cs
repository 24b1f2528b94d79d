using System.CommandLine;
using System.Text.Json;
using Gateway.LoadTest.Cli;
using Gateway.LoadTest.Core;

namespace Gateway.LoadTest.Scripting;

/// <summary>
/// <c>Gateway.LoadTest call --path P [--input JSON|@file] [--kind request|stream]</c>: load-tests any procedure through the
/// .NET client, with the same load simulations and reports as the built-in scenarios. A stream step reads the whole stream.
/// </summary>
public sealed class CallCommand : IScenarioDefinition
{
    public string Name => "call";

    public Command CreateCommand(CommonOptions common)
    {
        var command = new Command(Name, "Any procedure through Gateway.Client: --path echo/typed --input '{\"text\":\"hi\"}' (or @input.json), --kind request|stream");
        var path = new Option<string>("--path") { Description = "The procedure, e.g. echo/typed", Required = true };
        var input = new Option<string?>("--input") { Description = "Its input: JSON text, or @file to read it from a file; none by default" };
        var kind = new Option<string>("--kind") { Description = "request (one result) or stream (read every item until done)", DefaultValueFactory = _ => "request" };
        var connections = Options.Int("--connections", 10, "Connections", 1, "-c");
        var duration = Options.Time("--duration", TimeSpan.FromSeconds(10), "Measured time");
        var warmup = Options.Time("--warmup", TimeSpan.FromSeconds(2), "Warm-up before measuring, not recorded");
        var load = new Option<string>("--load")
        {
            Description = "keep[:COPIES][@TIME], ramp[:COPIES][@TIME], inject:RATE[/INTERVAL][@TIME], comma-separated; COPIES defaults to 4 per connection",
            DefaultValueFactory = _ => "keep",
        };
        foreach (var o in new Option[] { path, input, kind, connections, duration.Option, warmup.Option, load }) command.Add(o);
        command.SetAction((parse, ct) => App.RunAsync(parse, common, settings =>
        {
            string procedure = parse.GetValue(path)!;
            JsonElement? value = ReadInput(parse.GetValue(input));
            string k = parse.GetValue(kind) ?? "request";
            if (k is not ("request" or "stream")) throw new ArgumentException("--kind must be request or stream");
            int c = parse.GetValue(connections);
            var d = duration.Get(parse);
            if (d <= TimeSpan.Zero) throw new ArgumentException("--duration must be positive");
            var simulations = LoadSpec.Parse(parse.GetValue(load) ?? "keep", c * 4, d, warmup.Get(parse));
            var script = LoadScript.Scenario("call")
                .WithConnections(c)
                .WithLoad([.. simulations])
                .WithParameter("path", procedure)
                .WithParameter("kind", k)
                .WithParameter("input", value?.GetRawText() ?? "(none)");
            script = k == "request"
                ? script.WithStep(async ctx => await ctx.Client.CallAsync<JsonElement>(procedure, value, ctx.Cancellation))
                : script.WithStep(async ctx => { await foreach (var _ in ctx.Client.StreamAsync<JsonElement>(procedure, value, ctx.Cancellation)) { } });
            return script.Build(settings);
        }));
        return command;
    }

    private static JsonElement? ReadInput(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        if (text[0] == '@')
        {
            string file = text[1..];
            if (!File.Exists(file)) throw new ArgumentException($"--input {text}: no such file");
            text = File.ReadAllText(file);
        }
        try
        {
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"--input is not JSON: {ex.Message}");
        }
    }
}
