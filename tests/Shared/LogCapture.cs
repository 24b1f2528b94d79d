using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.Shared;

/// <summary>One line the gateway wrote: its level, event id, formatted text, exception and the second (TickCount64 / 1000) it was written in.</summary>
public sealed record LogEntry(LogLevel Level, int EventId, string Message, Exception? Exception, long Second);

/// <summary>
/// A logger factory that keeps every line at or above <see cref="MinLevel"/>, as a real provider with that minimum
/// would write it. Lines below the minimum report IsEnabled false, as a production logger does, so the gateway's
/// log budget sees exactly what it would see in production.
/// </summary>
public sealed class LogCapture(LogLevel minLevel = LogLevel.Information) : ILoggerFactory, ILoggerProvider, ILogger
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public LogLevel MinLevel { get; } = minLevel;
    public IReadOnlyList<LogEntry> Entries => _entries.ToArray();

    /// <summary>Lines whose text contains <paramref name="text"/>.</summary>
    public List<LogEntry> With(string text) => _entries.Where(e => e.Message.Contains(text, StringComparison.Ordinal)).ToList();

    /// <summary>Sum of the counts in the heartbeat's "N per-connection log lines ... were suppressed" summaries.</summary>
    public long SuppressedInSummaries => _entries
        .Where(e => e.Message.Contains("were suppressed", StringComparison.Ordinal))
        .Sum(e => long.Parse(e.Message.AsSpan(0, e.Message.IndexOf(' ')), System.Globalization.CultureInfo.InvariantCulture));

    public ILogger CreateLogger(string categoryName) => this;
    public void AddProvider(ILoggerProvider provider) { }
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= MinLevel;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        _entries.Enqueue(new LogEntry(logLevel, eventId.Id, formatter(state, exception), exception, Environment.TickCount64 / 1000));
    }

    public void Dispose() { }
}
