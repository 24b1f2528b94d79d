using System.Collections.Concurrent;
using Gateway.Server.Codec;
using Gateway.Server.WebSockets;

namespace Gateway.Server.Push;

/// <summary>
/// This node's connections (by number), and their topics and users as <see cref="InterestMap"/>s. Joining a topic
/// or a user completes once the backplane has the interest, so events from every node reach it from then on.
/// </summary>
internal sealed class LocalDirectory
{
    private readonly ClusterLink _link;
    private readonly int _maxSubscriptions;
    private readonly int _maxServerCalls;
    private readonly ConcurrentDictionary<long, PushState> _connections = new();

    public LocalDirectory(ClusterLink link, int maxSubscriptionsPerConnection, int maxServerCallsPerConnection)
    {
        _link = link;
        _maxSubscriptions = maxSubscriptionsPerConnection;
        _maxServerCalls = maxServerCallsPerConnection;
        var reconciler = new InterestReconciler(link);
        Topics = new InterestMap(isTopic: true, reconciler);
        Users = new InterestMap(isTopic: false, reconciler);
    }

    public InterestMap Topics { get; }
    public InterestMap Users { get; }
    public int ConnectionCount => _connections.Count;
    /// <summary>Every connection, enumerated without locking (ConcurrentDictionary's enumerator is a live, lock-free view).</summary>
    public IEnumerable<KeyValuePair<long, PushState>> Connections => _connections;

    public bool TryGet(long local, out PushState state) => _connections.TryGetValue(local, out state!);

    public PushState Register(WebSocketSession session, IWireCodec codec)
    {
        var state = new PushState(session, codec, _link.NodeId, _maxServerCalls);
        _connections[session.Id] = state;
        return state;
    }

    /// <summary>The connection is gone: out of the directory, its topics and its user; its waiting server calls fail.</summary>
    public void Unregister(PushState state)
    {
        _connections.TryRemove(state.LocalId, out _);
        state.ServerCalls.Close();
        var (topics, user) = state.Unregister();
        foreach (var topic in topics)
        {
            _link.Metrics.Unsubscribed();
            Topics.Remove(topic, state);
        }
        if (user is not null) Users.Remove(user, state);
    }

    public async ValueTask<bool> SubscribeAsync(PushState state, string topic, CancellationToken cancellationToken)
    {
        switch (state.TryAddTopic(topic, _maxSubscriptions))
        {
            case TopicAdd.Closed:
                return false;
            case TopicAdd.TooMany:
                throw new RpcException(ErrorCode.ResourceExhausted, $"a connection may be subscribed to at most {_maxSubscriptions} topics (Gateway:Topics:MaxSubscriptionsPerConnection)");
            case TopicAdd.Added:
                Topics.Add(topic, state);
                _link.Metrics.Subscribed();
                // Unregister may have run between the two adds: it did not see this topic, so undo it here.
                if (state.IsUnregistered)
                {
                    Topics.Remove(topic, state);
                    return false;
                }
                break;
        }
        // Subscribed already or not: the caller is told only once events from every node reach this topic. The desired
        // state is set before the backplane call completes, so it cannot tell; the reconcile, under the key's lock, waits
        // for a call in flight and returns at once when there is none.
        await Topics.ReconcileAsync(topic, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async ValueTask<bool> UnsubscribeAsync(PushState state, string topic, CancellationToken cancellationToken)
    {
        if (!state.RemoveTopic(topic)) return false;
        _link.Metrics.Unsubscribed();
        if (Topics.RemoveAndCheckEmpty(topic, state)) await Topics.ReconcileAsync(topic, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Moves a connection to another user (or none): local index now, backplane registration before it completes.</summary>
    public async ValueTask SetUserAsync(PushState state, string? userId, CancellationToken cancellationToken)
    {
        if (userId is { Length: 0 or > 256 }) throw new ArgumentException("a user id is 1 to 256 characters, or null", nameof(userId));
        if (!state.TrySwapUser(userId, out var previous))
        {
            // That user already (the setter may have started its registration a moment ago): still complete only once
            // the backplane has it.
            if (userId is not null && !state.IsUnregistered) await Users.ReconcileAsync(userId, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (previous is not null) Users.Remove(previous, state);
        if (userId is null) return;
        Users.Add(userId, state);
        if (state.IsUnregistered)
        {
            Users.Remove(userId, state);
            return;
        }
        // As for topics: the desired state is set before the backplane call completes, so wait through the reconcile.
        await Users.ReconcileAsync(userId, cancellationToken).ConfigureAwait(false);
    }
}
