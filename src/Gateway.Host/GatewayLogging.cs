using Gateway.Server.Options;
using Microsoft.Extensions.Configuration;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace Gateway.Host;

/// <summary>
/// The host's Serilog set-up: the "Serilog" section as configured, with the console written as text (its output
/// template) or, with Gateway:Logging:Format=Json, as one CLEF object per line for a container's log collector.
/// </summary>
internal static class GatewayLogging
{
    /// <summary>Gateway:Logging:Format; anything that is not Json reads as Text here, and the options validation names a wrong value before the host starts.</summary>
    public static LogFormat FormatOf(IConfiguration configuration) =>
        Enum.TryParse<LogFormat>(configuration[$"{GatewayOptions.SectionName}:Logging:Format"]?.Trim(), ignoreCase: true, out var format) && Enum.IsDefined(format)
            ? format
            : LogFormat.Text;

    public static void Configure(LoggerConfiguration logger, IConfiguration configuration, NodeIdEnricher nodeIds)
    {
        if (FormatOf(configuration) == LogFormat.Json)
        {
            // The configured console sinks carry a text template: they are replaced by one writing CLEF (@t, @m, @l,
            // @x, @tr/@sp when a trace is active, and every property as a member). Other sinks (files) stay as configured.
            logger.ReadFrom.Configuration(WithoutConsoleSinks(configuration))
                .WriteTo.Console(new RenderedCompactJsonFormatter());
        }
        else
        {
            logger.ReadFrom.Configuration(configuration);
        }
        logger.Enrich.With(nodeIds);
    }

    /// <summary>The configuration without the Serilog:WriteTo entries whose Name is Console.</summary>
    private static IConfiguration WithoutConsoleSinks(IConfiguration configuration)
    {
        var consoles = configuration.GetSection("Serilog:WriteTo").GetChildren()
            .Where(sink => string.Equals(sink["Name"], "Console", StringComparison.OrdinalIgnoreCase))
            .Select(sink => sink.Path)
            .ToList();
        var kept = configuration.AsEnumerable()
            .Where(kv => kv.Value is not null && !consoles.Any(c => kv.Key.Equals(c, StringComparison.OrdinalIgnoreCase)
                || kv.Key.StartsWith(c + ":", StringComparison.OrdinalIgnoreCase)));
        return new ConfigurationBuilder().AddInMemoryCollection(kept).Build();
    }
}

/// <summary>
/// Adds <c>NodeId</c> to every event, and turns the node-local number the server's own lines log as
/// <c>ConnectionId</c> into the cluster-wide id (<c>{node}.{n}</c>) that clients, plugins and other nodes use, so one
/// value finds every line about a connection. Enrichers run only for events that pass the level check: a line that is
/// off costs nothing more.
/// </summary>
internal sealed class NodeIdEnricher : ILogEventEnricher
{
    private volatile LogEventProperty? _nodeId;
    private string? _prefix;

    /// <summary>The node's id once known (also the OpenTelemetry service.instance.id).</summary>
    public string? NodeId => _prefix?[..^1];

    /// <summary>Set once the node has its id (the push hub is created before the listener starts).</summary>
    public void SetNodeId(string nodeId)
    {
        _prefix = nodeId + ".";
        _nodeId = new LogEventProperty("NodeId", new ScalarValue(nodeId));
    }

    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        var nodeId = _nodeId;
        if (nodeId is null) return; // start-up lines, before the node exists
        logEvent.AddPropertyIfAbsent(nodeId);
        if (logEvent.Properties.TryGetValue("ConnectionId", out var value) && value is ScalarValue { Value: long or int } number)
            logEvent.AddOrUpdateProperty(new LogEventProperty("ConnectionId",
                new ScalarValue(_prefix + Convert.ToString(number.Value, System.Globalization.CultureInfo.InvariantCulture))));
    }
}
