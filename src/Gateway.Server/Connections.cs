using System.Collections.Concurrent;
using Gateway.Server.Transport;
using Gateway.Server.WebSockets;

namespace Gateway.Server;

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

/// <summary>All live connections, for the heartbeat, shutdown and counts.</summary>
internal sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<long, GatewayConnection> _connections = new();
    private long _nextId;

    public long NextId() => Interlocked.Increment(ref _nextId);
    public int Count => _connections.Count;
    public void Add(GatewayConnection c) => _connections[c.Id] = c;
    public void Remove(GatewayConnection c) => _connections.TryRemove(c.Id, out _);
    public ICollection<GatewayConnection> Snapshot => _connections.Values;
    public IEnumerable<GatewayConnection> All => _connections.Select(p => p.Value);
}
