using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Gateway.Backplane.Redis.Tests.Infrastructure;

/// <summary>Logs (Information and up) into the test's output, so a failure shows what the backplane and the hub saw.</summary>
public sealed class TestOutputLoggerProvider(ITestOutputHelper output, string prefix = "", System.Diagnostics.Stopwatch? clock = null) : ILoggerProvider
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
            provider.Write($"{at,7:0} ms {provider.Prefix()}{logLevel.ToString()[..4]} {category}: {formatter(state, exception)}");
        }
    }

    private string Prefix() => prefix.Length == 0 ? "" : prefix + " ";
}

public static class TestLogging
{
    public static ILoggerFactory Factory(ITestOutputHelper output, System.Diagnostics.Stopwatch clock) =>
        LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output, "", clock)).SetMinimumLevel(LogLevel.Information));

    /// <summary>Routes a service collection's logs into the test output.</summary>
    public static IServiceCollection AddTestOutput(this IServiceCollection services, ITestOutputHelper output, string prefix, System.Diagnostics.Stopwatch clock) =>
        services.AddLogging(b => b.AddProvider(new TestOutputLoggerProvider(output, prefix, clock)).SetMinimumLevel(LogLevel.Information));
}
