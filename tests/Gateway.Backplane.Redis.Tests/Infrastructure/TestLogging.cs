using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Gateway.Backplane.Redis.Tests.Infrastructure;

/// <summary>Logs (Information and up) into the test's output, so a failure shows what the backplane and the hub saw.</summary>
public sealed class TestOutputLoggerProvider(ITestOutputHelper output, string prefix = "", System.Diagnostics.Stopwatch? clock = null, LogSink? sink = null) : ILoggerProvider
{
    // One clock per test (shared by its nodes), so the nodes' times compare.
    private readonly System.Diagnostics.Stopwatch _clock = clock ?? System.Diagnostics.Stopwatch.StartNew();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    private void Write(string line)
    {
        try { output.WriteLine(line); }
        catch (InvalidOperationException) { } // the test has ended: its output is closed
    }

    private sealed class Logger(TestOutputLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        // The RPC layer's start-up lines (every procedure bound) are noise here: only its warnings.
        public bool IsEnabled(LogLevel logLevel) => category.StartsWith("Gateway", StringComparison.Ordinal) &&
            logLevel >= (category == "Gateway.Rpc" ? LogLevel.Warning : LogLevel.Information);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var at = provider._clock.Elapsed.TotalMilliseconds;
            provider.Sink?.Add(new LogLine(provider.Name, category, logLevel, formatter(state, exception)));
            provider.Write($"{at,7:0} ms {provider.Prefix()}{logLevel.ToString()[..4]} {category}: {formatter(state, exception)}");
        }
    }

    private string Prefix() => prefix.Length == 0 ? "" : prefix + " ";
    private LogSink? Sink => sink;
    private string Name => prefix;
}

public static class TestLogging
{
    public static ILoggerFactory Factory(ITestOutputHelper output, System.Diagnostics.Stopwatch clock) =>
        LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output, "", clock)).SetMinimumLevel(LogLevel.Information));

    /// <summary>Routes a service collection's logs into the test output.</summary>
    public static IServiceCollection AddTestOutput(this IServiceCollection services, ITestOutputHelper output, string prefix, System.Diagnostics.Stopwatch clock, LogSink? sink = null) =>
        services.AddLogging(b => b.AddProvider(new TestOutputLoggerProvider(output, prefix, clock, sink)).SetMinimumLevel(LogLevel.Information));
}

public sealed record LogLine(string Node, string Category, LogLevel Level, string Message);

/// <summary>The log lines of a test's nodes, so a test can await one (a log line is the only signal some failures give).</summary>
public sealed class LogSink
{
    private readonly object _gate = new();
    private readonly List<LogLine> _lines = [];
    private readonly List<(Func<LogLine, bool> Match, TaskCompletionSource<LogLine> Done)> _waiters = [];

    public void Add(LogLine line)
    {
        List<(TaskCompletionSource<LogLine>, LogLine)>? done = null;
        lock (_gate)
        {
            _lines.Add(line);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (!_waiters[i].Match(line)) continue;
                (done ??= []).Add((_waiters[i].Done, line));
                _waiters.RemoveAt(i);
            }
        }
        if (done is not null) foreach (var (tcs, l) in done) tcs.TrySetResult(l);
    }

    /// <summary>The first line (already logged or to come) matching <paramref name="match"/>; throws TimeoutException.</summary>
    public async Task<LogLine> WaitForAsync(Func<LogLine, bool> match, string what, TimeSpan timeout)
    {
        var done = new TaskCompletionSource<LogLine>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            var seen = _lines.FirstOrDefault(match);
            if (seen is not null) return seen;
            _waiters.Add((match, done));
        }
        try { return await done.Task.WaitAsync(timeout); }
        catch (TimeoutException)
        {
            lock (_gate) _waiters.RemoveAll(w => w.Done == done);
            throw new TimeoutException($"no log line within {timeout.TotalSeconds:0.#} s: {what}");
        }
    }
}
