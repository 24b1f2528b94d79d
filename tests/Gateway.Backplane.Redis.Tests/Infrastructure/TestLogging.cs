using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Gateway.Backplane.Redis.Tests.Infrastructure;

/// <summary>Logs (Information and up) into the test's output, so a failure shows what the backplane and the hub saw.</summary>
public sealed class TestOutputLoggerProvider(ITestOutputHelper output, string prefix = "") : ILoggerProvider
{
    private readonly DateTime _start = DateTime.UtcNow;

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
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information && category.StartsWith("Gateway", StringComparison.Ordinal);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var at = (DateTime.UtcNow - provider._start).TotalMilliseconds;
            provider.Write($"{at,7:0} ms {provider.Prefix()}{logLevel.ToString()[..4]} {category}: {formatter(state, exception)}");
        }
    }

    private string Prefix() => prefix.Length == 0 ? "" : prefix + " ";
}

public static class TestLogging
{
    public static ILoggerFactory Factory(ITestOutputHelper output, string prefix = "") =>
        LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output, prefix)).SetMinimumLevel(LogLevel.Information));

    /// <summary>Routes a service collection's logs into the test output.</summary>
    public static IServiceCollection AddTestOutput(this IServiceCollection services, ITestOutputHelper output, string prefix) =>
        services.AddLogging(b => b.AddProvider(new TestOutputLoggerProvider(output, prefix)).SetMinimumLevel(LogLevel.Information));
}
