// Baseline (b): the same procedures as a SignalR hub (JSON hub protocol), default settings except a receive
// limit large enough for the 1 MiB echo.
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.SignalR;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSignalR(o => o.MaximumReceiveMessageSize = 2 * 1024 * 1024);
var app = builder.Build();
// GC counts in the gateway's Prometheus names (bench-compare reads every server's Gen0/Gen2 the same way); not on the hot path.
app.MapGet("/metrics", () => Results.Text(string.Concat(Enumerable.Range(0, GC.MaxGeneration + 1)
    .Select(g => $"dotnet_gc_collections_total{{generation=\"{g}\"}} {GC.CollectionCount(g)}\n")), "text/plain; version=0.0.4"));
app.MapHub<EchoHub>("/hub");
app.Run();

public sealed class EchoHub : Hub
{
    public Task<Msg> Echo(Msg input) => Task.FromResult(input);

    public async IAsyncEnumerable<Tick> Count(CountInput input, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (int i = 0; i < input.N; i++)
        {
            if (input.DelayMs > 0) await Task.Delay(input.DelayMs, cancellationToken);
            yield return new Tick(i);
        }
    }
}

public sealed class Msg
{
    public string? Text { get; set; }
    public long? Number { get; set; }
}

public sealed class CountInput
{
    public int N { get; set; }
    public int DelayMs { get; set; }
}

public sealed record Tick(int I);
