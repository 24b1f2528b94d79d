using System.Collections.Concurrent;
using Gateway.Backplane;

namespace Gateway.Rpc.Tests.Push;

/// <summary>
/// An <see cref="InMemoryBackplane"/> whose topic subscriptions and user registrations can be held open for chosen
/// keys, as a broker that answers slowly (Redis) would: the test sees when the gateway entered the call and decides
/// when it completes. It can also be "down" (<see cref="Down"/>). Everything else passes straight through.
/// </summary>
public sealed class GatedBackplane(InMemoryBackplane inner) : IBackplane
{
    private static readonly TimeSpan MaxHold = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, Gate> _subscribes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Gate> _users = new(StringComparer.Ordinal);

    /// <summary>A held call: <see cref="Entered"/> completes when the gateway calls in; <see cref="Open"/> lets it complete.</summary>
    public sealed class Gate
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task Entered => _entered.Task;
        public void Open() => _opened.TrySetResult();

        internal async ValueTask PassAsync()
        {
            _entered.TrySetResult();
            // Bounded: a test that forgets to open never hangs the gateway for good.
            try { await _opened.Task.WaitAsync(MaxHold); }
            catch (TimeoutException) { }
        }
    }

    /// <summary>The next SubscribeAsync of <paramref name="topic"/> waits until the gate opens.</summary>
    public Gate HoldSubscribe(string topic) => _subscribes[topic] = new Gate();

    /// <summary>The next AddUserAsync of <paramref name="userId"/> waits until the gate opens.</summary>
    public Gate HoldAddUser(string userId) => _users[userId] = new Gate();

    /// <summary>While true, publishes, broadcasts, node messages and user lookups throw, as with a broker that is down.</summary>
    public bool Down { get; set; }

    private void ThrowIfDown()
    {
        if (Down) throw new BackplaneUnavailableException("the test backplane is down");
    }

    public string Name => "Gated" + inner.Name;
    public bool IsConnected => inner.IsConnected;

    public Task StartAsync(string nodeId, IBackplaneReceiver receiver, CancellationToken cancellationToken) => inner.StartAsync(nodeId, receiver, cancellationToken);
    public Task StopAsync(CancellationToken cancellationToken) => inner.StopAsync(cancellationToken);

    public async ValueTask SubscribeAsync(string topic, CancellationToken cancellationToken)
    {
        if (_subscribes.TryRemove(topic, out var gate)) await gate.PassAsync();
        await inner.SubscribeAsync(topic, cancellationToken);
    }

    public ValueTask UnsubscribeAsync(string topic, CancellationToken cancellationToken) => inner.UnsubscribeAsync(topic, cancellationToken);
    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        ThrowIfDown();
        return inner.PublishAsync(topic, message, cancellationToken);
    }

    public ValueTask BroadcastAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        ThrowIfDown();
        return inner.BroadcastAsync(message, cancellationToken);
    }

    public ValueTask<bool> SendToNodeAsync(string nodeId, ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        ThrowIfDown();
        return inner.SendToNodeAsync(nodeId, message, cancellationToken);
    }

    public async ValueTask AddUserAsync(string userId, CancellationToken cancellationToken)
    {
        if (_users.TryRemove(userId, out var gate)) await gate.PassAsync();
        await inner.AddUserAsync(userId, cancellationToken);
    }

    public ValueTask RemoveUserAsync(string userId, CancellationToken cancellationToken) => inner.RemoveUserAsync(userId, cancellationToken);
    public ValueTask<IReadOnlyList<string>> GetUserNodesAsync(string userId, CancellationToken cancellationToken)
    {
        ThrowIfDown();
        return inner.GetUserNodesAsync(userId, cancellationToken);
    }
    public ValueTask ForgetUserNodeAsync(string userId, string nodeId, CancellationToken cancellationToken) => inner.ForgetUserNodeAsync(userId, nodeId, cancellationToken);
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
