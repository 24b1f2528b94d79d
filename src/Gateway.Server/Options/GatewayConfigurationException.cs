namespace Gateway.Server.Options;

/// <summary>
/// A configuration value the gateway cannot run with, found while it is being built (beyond what the options
/// validation sees, e.g. a rate limit for a procedure no plugin serves). The message names the full key path.
/// The host reports it like a validation failure (exit code 2); it derives from InvalidOperationException so
/// callers that caught that before still do.
/// </summary>
public sealed class GatewayConfigurationException : InvalidOperationException
{
    public GatewayConfigurationException(string message) : base(message) { }
    public GatewayConfigurationException(string message, Exception inner) : base(message, inner) { }
}
