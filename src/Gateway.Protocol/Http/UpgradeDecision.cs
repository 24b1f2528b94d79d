namespace Gateway.Protocol.Http;

/// <summary>The server's answer to an upgrade request: 101 with a subprotocol, or an HTTP error.</summary>
public readonly record struct UpgradeDecision(int StatusCode, string? Subprotocol, string? Error)
{
    public bool Accepted => StatusCode == 101;
}
