using Gateway.LoadTest.Net;

namespace Gateway.LoadTest.Core;

/// <summary>The options every scenario shares.</summary>
public sealed record RunSettings
{
    public required ConnectTarget Target { get; init; }
    public required string Label { get; init; }
    public int? ServerPid { get; init; }
    public string? OutPrefix { get; init; }
    public required string ResultsDirectory { get; init; }
    public bool WriteJson { get; init; }
    public bool WriteHtml { get; init; }
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public bool PlainOutput { get; init; }
}
