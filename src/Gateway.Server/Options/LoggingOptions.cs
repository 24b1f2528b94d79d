namespace Gateway.Server.Options;

/// <summary>How the host writes its console log (Gateway:Logging). Documented in docs/configuration.md.</summary>
public sealed class LoggingOptions
{
    /// <summary>Text (the Serilog section's output template) or Json (one CLEF object per line, for containers).</summary>
    public LogFormat Format { get; set; } = LogFormat.Text;
}

/// <summary>The console log's format.</summary>
public enum LogFormat
{
    /// <summary>Human-readable lines, as Serilog:WriteTo's console sink formats them.</summary>
    Text,
    /// <summary>Compact Log Event Format (Serilog.Formatting.Compact): one JSON object per line, every property a member.</summary>
    Json,
}
