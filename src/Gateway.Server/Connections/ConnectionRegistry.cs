using System.Collections.Concurrent;

namespace Gateway.Server.Connections;

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
}
