namespace Gateway.Backplane;

/// <summary>The shared state of in-process nodes: who listens to which topic and which node holds which user.</summary>
public sealed class InMemoryBus
{
    internal const byte TopicKind = 1, BroadcastKind = 2, NodeKind = 3;
    private readonly object _gate = new();
    private readonly Dictionary<string, InMemoryBackplane> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _topics = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _users = new(StringComparer.Ordinal);

    /// <summary>Ids of the nodes on this bus.</summary>
    public IReadOnlyList<string> Nodes
    {
        get { lock (_gate) return _nodes.Keys.ToArray(); }
    }

    internal void Join(string nodeId, InMemoryBackplane node)
    {
        lock (_gate)
        {
            if (!_nodes.TryAdd(nodeId, node)) throw new InvalidOperationException($"node id '{nodeId}' is already on this bus");
        }
    }

    internal void Leave(string nodeId)
    {
        lock (_gate)
        {
            _nodes.Remove(nodeId);
            foreach (var set in _topics.Values) set.Remove(nodeId);
            foreach (var set in _users.Values) set.Remove(nodeId);
        }
    }

    internal void Subscribe(string nodeId, string topic) => Add(_topics, topic, nodeId);

    internal void Unsubscribe(string nodeId, string topic) => Remove(_topics, topic, nodeId);

    internal void Publish(string from, string topic, ReadOnlySpan<byte> message)
    {
        lock (_gate)
        {
            if (_topics.TryGetValue(topic, out var set)) DeliverToOthers(from, set, TopicKind, topic, message);
        }
    }

    internal void Broadcast(string from, ReadOnlySpan<byte> message)
    {
        lock (_gate) DeliverToOthers(from, _nodes.Keys, BroadcastKind, null, message);
    }

    /// <summary>
    /// The one fan-out of topic messages and broadcasts: every listed node but the sender gets the message, copied once
    /// (the caller's memory is only valid during the call) and only when someone receives it. Called under the gate.
    /// </summary>
    private void DeliverToOthers(string from, IEnumerable<string> nodeIds, byte kind, string? topic, ReadOnlySpan<byte> message)
    {
        byte[]? copy = null;
        foreach (var id in nodeIds)
        {
            if (id == from || !_nodes.TryGetValue(id, out var node)) continue;
            node.Deliver(new InMemoryBackplane.Delivery(kind, topic, copy ??= message.ToArray()));
        }
    }

    internal bool SendToNode(string nodeId, ReadOnlySpan<byte> message)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(nodeId, out var node)) return false;
            node.Deliver(new InMemoryBackplane.Delivery(NodeKind, null, message.ToArray()));
            return true;
        }
    }

    internal void AddUser(string nodeId, string userId) => Add(_users, userId, nodeId);

    internal void RemoveUser(string nodeId, string userId) => Remove(_users, userId, nodeId);

    /// <summary>Topics and users are both "key → nodes" maps; an empty set is removed so the maps do not grow with old keys.</summary>
    private void Add(Dictionary<string, HashSet<string>> map, string key, string nodeId)
    {
        lock (_gate)
        {
            if (!map.TryGetValue(key, out var set)) map[key] = set = new HashSet<string>(StringComparer.Ordinal);
            set.Add(nodeId);
        }
    }

    private void Remove(Dictionary<string, HashSet<string>> map, string key, string nodeId)
    {
        lock (_gate)
        {
            if (map.TryGetValue(key, out var set) && set.Remove(nodeId) && set.Count == 0) map.Remove(key);
        }
    }

    internal IReadOnlyList<string> UserNodes(string userId)
    {
        lock (_gate)
        {
            return _users.TryGetValue(userId, out var set) ? set.ToArray() : [];
        }
    }
}
