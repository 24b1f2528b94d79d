using System.Threading.Channels;

namespace Gateway.Backplane;

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
