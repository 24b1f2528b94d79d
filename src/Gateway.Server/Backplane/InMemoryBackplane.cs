using System.Threading.Channels;

namespace Gateway.Server.Backplane;

/// <summary>
/// The default backplane: nodes in one process. A gateway on its own gets a private bus, so it is a single node and a
/// publish costs a dictionary lookup; tests give several in-process gateways one <see cref="InMemoryBus"/> to act as a
/// cluster with the same routing as Redis. Each node receives on one queue drained by one loop, so messages keep their
/// order and callbacks never overlap, as with a real broker.
/// </summary>
public sealed class InMemoryBackplane(InMemoryBus? bus = null) : IBackplane
{
    private readonly InMemoryBus _bus = bus ?? new InMemoryBus();
    private Channel<Delivery>? _inbox;
    private Task _loop = Task.CompletedTask;
    private IBackplaneReceiver? _receiver;

    public string Name => "InMemory";
    public bool IsConnected => true;
    public string? NodeId { get; private set; }
    public InMemoryBus Bus => _bus;

    internal readonly record struct Delivery(byte Kind, string? Topic, byte[] Message);

    public Task StartAsync(string nodeId, IBackplaneReceiver receiver, CancellationToken cancellationToken)
    {
        NodeId = nodeId;
        _receiver = receiver;
        _inbox = Channel.CreateUnbounded<Delivery>(new UnboundedChannelOptions { SingleReader = true });
        _loop = ReceiveLoopAsync(_inbox.Reader);
        _bus.Join(nodeId, this);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (NodeId is null) return;
        _bus.Leave(NodeId);
        _inbox?.Writer.TryComplete();
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    internal void Deliver(Delivery delivery) => _inbox?.Writer.TryWrite(delivery);

    private async Task ReceiveLoopAsync(ChannelReader<Delivery> reader)
    {
        await foreach (var d in reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                switch (d.Kind)
                {
                    case InMemoryBus.TopicKind: _receiver!.OnTopicMessage(d.Topic!, d.Message); break;
                    case InMemoryBus.BroadcastKind: _receiver!.OnBroadcast(d.Message); break;
                    default: _receiver!.OnNodeMessage(d.Message); break;
                }
            }
            catch
            {
                // The receiver logs its own faults; one bad message must not stop delivery to this node.
            }
        }
    }

    private string Self => NodeId ?? throw new InvalidOperationException("the backplane is not started");

    public ValueTask SubscribeAsync(string topic, CancellationToken cancellationToken)
    {
        _bus.Subscribe(Self, topic);
        return default;
    }

    public ValueTask UnsubscribeAsync(string topic, CancellationToken cancellationToken)
    {
        _bus.Unsubscribe(Self, topic);
        return default;
    }

    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        _bus.Publish(Self, topic, message.Span);
        return default;
    }

    public ValueTask BroadcastAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        _bus.Broadcast(Self, message.Span);
        return default;
    }

    public ValueTask<bool> SendToNodeAsync(string nodeId, ReadOnlyMemory<byte> message, CancellationToken cancellationToken) =>
        new(_bus.SendToNode(nodeId, message.Span));

    public ValueTask AddUserAsync(string userId, CancellationToken cancellationToken)
    {
        _bus.AddUser(Self, userId);
        return default;
    }

    public ValueTask RemoveUserAsync(string userId, CancellationToken cancellationToken)
    {
        _bus.RemoveUser(Self, userId);
        return default;
    }

    public ValueTask<IReadOnlyList<string>> GetUserNodesAsync(string userId, CancellationToken cancellationToken) =>
        new(_bus.UserNodes(userId));

    public ValueTask ForgetUserNodeAsync(string userId, string nodeId, CancellationToken cancellationToken)
    {
        _bus.RemoveUser(nodeId, userId);
        return default;
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(CancellationToken.None).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }
}

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

    internal void Subscribe(string nodeId, string topic)
    {
        lock (_gate)
        {
            if (!_topics.TryGetValue(topic, out var set)) _topics[topic] = set = new HashSet<string>(StringComparer.Ordinal);
            set.Add(nodeId);
        }
    }

    internal void Unsubscribe(string nodeId, string topic)
    {
        lock (_gate)
        {
            if (_topics.TryGetValue(topic, out var set) && set.Remove(nodeId) && set.Count == 0) _topics.Remove(topic);
        }
    }

    internal void Publish(string from, string topic, ReadOnlySpan<byte> message)
    {
        byte[]? copy = null;
        lock (_gate)
        {
            if (!_topics.TryGetValue(topic, out var set)) return;
            foreach (var id in set)
            {
                if (id == from || !_nodes.TryGetValue(id, out var node)) continue;
                node.Deliver(new InMemoryBackplane.Delivery(TopicKind, topic, copy ??= message.ToArray()));
            }
        }
    }

    internal void Broadcast(string from, ReadOnlySpan<byte> message)
    {
        byte[]? copy = null;
        lock (_gate)
        {
            foreach (var (id, node) in _nodes)
            {
                if (id != from) node.Deliver(new InMemoryBackplane.Delivery(BroadcastKind, null, copy ??= message.ToArray()));
            }
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

    internal void AddUser(string nodeId, string userId)
    {
        lock (_gate)
        {
            if (!_users.TryGetValue(userId, out var set)) _users[userId] = set = new HashSet<string>(StringComparer.Ordinal);
            set.Add(nodeId);
        }
    }

    internal void RemoveUser(string nodeId, string userId)
    {
        lock (_gate)
        {
            if (_users.TryGetValue(userId, out var set) && set.Remove(nodeId) && set.Count == 0) _users.Remove(userId);
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
