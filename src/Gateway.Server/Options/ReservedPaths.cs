namespace Gateway.Server.Options;

/// <summary>
/// The HTTP paths the gateway answers itself (health, readiness, Prometheus metrics): the front door routes them
/// before any upgrade, so neither Gateway:WebSocketPath nor Gateway:EchoPath may take one.
/// </summary>
internal static class ReservedPaths
{
    public const string Health = "/healthz";
    public const string Ready = "/readyz";
    public const string Metrics = "/metrics";

    /// <summary>Every reserved path, in the order error messages list them.</summary>
    public static readonly string[] All = [Health, Ready, Metrics];

    /// <summary>Whether the front door answers <paramref name="path"/> itself (ordinal, exact match, no allocation).</summary>
    public static bool Contains(string? path) => path is Health or Ready or Metrics;
}
