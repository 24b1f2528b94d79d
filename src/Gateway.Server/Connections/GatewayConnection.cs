using Gateway.Server.Transport;
using Gateway.Server.WebSockets;

namespace Gateway.Server.Connections;

/// <summary>A TCP connection as the server tracks it: its transport, its deadline and, once upgraded, its session.</summary>
internal sealed class GatewayConnection(SocketConnection transport)
{
    public SocketConnection Transport { get; } = transport;
    public long Id => Transport.Id;
    public WebSocketSession? Session { get; set; }
    /// <summary>Accepted past Limits:MaxConnections (into an over-limit slot): it may read a health endpoint, never upgrade.</summary>
    public bool OverLimit { get; init; }

    private long _deadline; // Environment.TickCount64 in ms; 0 = none
    private string? _deadlineReason;

    /// <summary>Arms the one deadline the heartbeat enforces (handshake, closing handshake).</summary>
    public void SetDeadline(TimeSpan fromNow, string reason)
    {
        _deadlineReason = reason;
        Volatile.Write(ref _deadline, Environment.TickCount64 + (long)fromNow.TotalMilliseconds);
    }

    public void ClearDeadline() => Volatile.Write(ref _deadline, 0);

    public bool IsPastDeadline(long now, out string? reason)
    {
        long d = Volatile.Read(ref _deadline);
        reason = _deadlineReason;
        return d != 0 && now >= d;
    }
}
