namespace Gateway.Backplane;

/// <summary>A backplane operation failed: the broker is unreachable or did not answer in time.</summary>
public sealed class BackplaneUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
