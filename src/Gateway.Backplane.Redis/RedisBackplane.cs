using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Gateway.Backplane.Redis;

/// <summary>
/// The <see cref="IBackplane"/> over Redis pub/sub (StackExchange.Redis), for several gateway nodes behind a load
/// balancer without sticky sessions. With prefix <c>p</c> (Gateway:Backplane:Redis:ChannelPrefix):
/// <list type="bullet">
/// <item>channel <c>p:topic:{topic}</c>: a topic's events; a node subscribes only while it has local subscribers;</item>
/// <item>channel <c>p:node:{id}</c>: messages for one node (events to a connection or user, calls and their replies);</item>
/// <item>channel <c>p:all</c>: broadcasts;</item>
/// <item>keys <c>p:presence:{id}</c> (expires after three heartbeats), set <c>p:nodes</c>, sets <c>p:user:{user}</c> (nodes holding
/// the user) and <c>p:node-users:{id}</c> (users a node holds, so a dead node's entries can be removed by the others).</item>
/// </list>
/// Topic messages and broadcasts carry the sender's node id in front, so a node drops its own. Subscriptions and user
/// registrations are kept as desired state and restored after a reconnect, including into an empty Redis after a restart.
/// Delivery is at most once (Redis pub/sub): what is published while a node is cut off from Redis is not replayed to it.
/// </summary>
public sealed partial class RedisBackplane : IBackplane
{
    private readonly ConfigurationOptions _config;
    private readonly RedisBackplaneOptions _options;
    private readonly ILogger _log;
    private readonly string _prefix;
    private readonly ConcurrentDictionary<string, Subscription> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _users = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _userRetries = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private ConnectionMultiplexer? _mux;
    private IBackplaneReceiver? _receiver;
    private string _nodeId = "";
    private byte[] _origin = [];
    private Subscription? _nodeChannel, _broadcastChannel;
    private Task _heartbeat = Task.CompletedTask;
    private int _restoring;
    private volatile bool _announced;

    public RedisBackplane(RedisBackplaneOptions options, ILogger logger)
    {
        _options = options;
        _log = logger;
        _prefix = options.ChannelPrefix;
        // The host's options check has refused a bad string already (naming the key); this is for direct construction.
        if (RedisBackplaneOptionsSection.TryParse(options.Configuration, RedisBackplaneOptions.SectionPath, out var config) is { } error)
            throw new ArgumentException(error, nameof(options));
        _config = config!;
        // Start even if Redis is not up yet (containers start in any order) and keep reconnecting; operations that
        // cannot reach Redis within OperationTimeout fail to their caller instead of waiting for ever.
        _config.AbortOnConnectFail = false;
        int timeout = (int)options.OperationTimeout.TotalMilliseconds;
        _config.AsyncTimeout = timeout;
        _config.SyncTimeout = timeout;
        _config.ConnectTimeout = Math.Max(timeout, 1000);
        _config.ReconnectRetryPolicy = new ExponentialRetry(100, 5000);
        _config.KeepAlive = Math.Max(1, (int)options.HeartbeatInterval.TotalSeconds);
        // StackExchange.Redis checks timeouts and connection health on its own heartbeat (1 s by default): a quarter of
        // the operation timeout keeps a failing call close to OperationTimeout and notices a returning Redis sooner.
        _config.HeartbeatInterval = TimeSpan.FromMilliseconds(Math.Clamp(timeout / 4, 100, 1000));
    }

    public string Name => "Redis";
    public bool IsConnected => _mux?.IsConnected ?? false;

    /// <summary>The connection (null before StartAsync). For tests: disposing it makes this node die without leaving.</summary>
    internal ConnectionMultiplexer? Multiplexer => _mux;

    private ConnectionMultiplexer Mux => _mux ?? throw new BackplaneUnavailableException("the Redis backplane is not started");
    private RedisChannel TopicChannel(string topic) => RedisChannel.Literal($"{_prefix}:topic:{topic}");
    private RedisChannel NodeChannel(string node) => RedisChannel.Literal($"{_prefix}:node:{node}");
    private RedisChannel BroadcastChannel => RedisChannel.Literal($"{_prefix}:all");
    private RedisKey PresenceKey(string node) => $"{_prefix}:presence:{node}";
    private RedisKey NodesKey => $"{_prefix}:nodes";
    private RedisKey UserKey(string user) => $"{_prefix}:user:{user}";
    private RedisKey NodeUsersKey(string node) => $"{_prefix}:node-users:{node}";
    private TimeSpan PresenceTtl => _options.HeartbeatInterval * 3;

    public async Task StartAsync(string nodeId, IBackplaneReceiver receiver, CancellationToken cancellationToken)
    {
        _nodeId = nodeId;
        _receiver = receiver;
        _origin = Origin(nodeId);
        _config.ClientName = "gateway-" + nodeId;
        _mux = await ConnectionMultiplexer.ConnectAsync(_config).ConfigureAwait(false);
        _mux.ConnectionFailed += (_, e) => RedisLog.ConnectionFailed(_log, e.ConnectionType.ToString(), e.EndPoint?.ToString() ?? "?", e.FailureType.ToString());
        _mux.ConnectionRestored += (_, e) =>
        {
            RedisLog.ConnectionRestored(_log, e.ConnectionType.ToString(), e.EndPoint?.ToString() ?? "?");
            _ = RestoreAsync();
        };
        if (!_mux.IsConnected) RedisLog.NotConnectedAtStart(_log, _options.Configuration ?? "");

        _nodeChannel = new Subscription(NodeChannel(nodeId), Guard("node channel", m => _receiver!.OnNodeMessage((ReadOnlyMemory<byte>)m.Message)));
        _broadcastChannel = new Subscription(BroadcastChannel, Guard("broadcast", m =>
        {
            if (TryStripOrigin(m.Message, out var body)) _receiver!.OnBroadcast(body);
        }));
        // Redis not reachable now: do not hold the start for timeouts; the reconnect handler and the heartbeat subscribe
        // and announce as soon as it is.
        if (_mux.IsConnected)
        {
            await TrySubscribeAsync(_nodeChannel).ConfigureAwait(false);
            await TrySubscribeAsync(_broadcastChannel).ConfigureAwait(false);
            await AnnounceAsync(force: true).ConfigureAwait(false);
        }
        _heartbeat = HeartbeatLoopAsync(_stop.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_mux is null || _stop.IsCancellationRequested) return;
        _stop.Cancel();
        try { await _heartbeat.ConfigureAwait(false); } catch (OperationCanceledException) { }
        if (_mux.IsConnected)
        {
            try
            {
                // Leave cleanly, so other nodes stop routing this node's users here at once.
                var db = _mux.GetDatabase();
                var batch = new List<Task>();
                foreach (var user in _users.Keys) batch.Add(db.SetRemoveAsync(UserKey(user), _nodeId));
                batch.Add(db.KeyDeleteAsync(NodeUsersKey(_nodeId)));
                batch.Add(db.KeyDeleteAsync(PresenceKey(_nodeId)));
                batch.Add(db.SetRemoveAsync(NodesKey, _nodeId));
                // One budget for the whole leave: Redis may have gone away just now, and the unsubscribe would
                // otherwise wait for the library's own timeout.
                var subscriber = _mux.GetSubscriber();
                async Task LeaveAsync()
                {
                    await Task.WhenAll(batch).ConfigureAwait(false);
                    await subscriber.UnsubscribeAllAsync().ConfigureAwait(false);
                }
                await LeaveAsync().WaitAsync(_options.OperationTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or OperationCanceledException)
            {
                RedisLog.OperationFailed(_log, "leave the cluster", ex.Message);
            }
        }
        await _mux.CloseAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(CancellationToken.None).ConfigureAwait(false); } catch (ObjectDisposedException) { }
        _mux?.Dispose();
        _stop.Dispose();
    }

    // ---- topics ----------------------------------------------------------------------------------

    public async ValueTask SubscribeAsync(string topic, CancellationToken cancellationToken)
    {
        var subscription = _topics.GetOrAdd(topic, t => new Subscription(TopicChannel(t), Guard("topic " + t, m =>
        {
            if (TryStripOrigin(m.Message, out var body)) _receiver!.OnTopicMessage(t, body);
        })));
        if (!await TrySubscribeAsync(subscription).ConfigureAwait(false))
            throw new BackplaneUnavailableException($"Redis did not confirm the subscription to topic '{topic}'; it is made when Redis is reachable again");
    }

    public async ValueTask UnsubscribeAsync(string topic, CancellationToken cancellationToken)
    {
        if (!_topics.TryRemove(topic, out var subscription)) return;
        await subscription.Gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            subscription.Removed = true;
            if (subscription.Queue is { } queue) await queue.UnsubscribeAsync().ConfigureAwait(false);
            else await Mux.GetSubscriber().UnsubscribeAsync(subscription.Channel).ConfigureAwait(false);
            subscription.Queue = null;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Harmless: messages for a topic without local subscribers are dropped on arrival.
            RedisLog.OperationFailed(_log, "unsubscribe from " + topic, ex.Message);
        }
        finally
        {
            subscription.Gate.Release();
        }
    }

    public async ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        var payload = WithOrigin(message.Span);
        await Run(() => Mux.GetSubscriber().PublishAsync(TopicChannel(topic), payload), "publish to " + topic).ConfigureAwait(false);
    }

    public async ValueTask BroadcastAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        var payload = WithOrigin(message.Span);
        await Run(() => Mux.GetSubscriber().PublishAsync(BroadcastChannel, payload), "broadcast").ConfigureAwait(false);
    }

    public async ValueTask<bool> SendToNodeAsync(string nodeId, ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        var payload = message.ToArray();
        long receivers = await Run(() => Mux.GetSubscriber().PublishAsync(NodeChannel(nodeId), payload), "send to node " + nodeId).ConfigureAwait(false);
        return receivers > 0;
    }

    // ---- users -----------------------------------------------------------------------------------

    public async ValueTask AddUserAsync(string userId, CancellationToken cancellationToken)
    {
        _users[userId] = 0;
        await WriteUserAsync(userId, add: true).ConfigureAwait(false);
    }

    public async ValueTask RemoveUserAsync(string userId, CancellationToken cancellationToken)
    {
        _users.TryRemove(userId, out _);
        await WriteUserAsync(userId, add: false).ConfigureAwait(false);
    }

    /// <summary>Writes one user's registration as the desired state has it; a failure is retried on the next heartbeat.</summary>
    private async Task WriteUserAsync(string userId, bool add)
    {
        var db = Mux.GetDatabase();
        try
        {
            await Run(() => add
                ? Task.WhenAll(db.SetAddAsync(UserKey(userId), _nodeId), db.SetAddAsync(NodeUsersKey(_nodeId), userId))
                : Task.WhenAll(db.SetRemoveAsync(UserKey(userId), _nodeId), db.SetRemoveAsync(NodeUsersKey(_nodeId), userId)),
                (add ? "register user " : "unregister user ") + userId).ConfigureAwait(false);
            _userRetries.TryRemove(userId, out _);
        }
        catch (BackplaneUnavailableException)
        {
            _userRetries[userId] = 0;
            throw;
        }
    }

    /// <summary>Users whose last write failed without the connection dropping (a timeout): the heartbeat writes them again.</summary>
    private async Task RetryUsersAsync()
    {
        foreach (var user in _userRetries.Keys)
        {
            try { await WriteUserAsync(user, add: _users.ContainsKey(user)).ConfigureAwait(false); }
            catch (BackplaneUnavailableException) { return; }
        }
    }

    public async ValueTask<IReadOnlyList<string>> GetUserNodesAsync(string userId, CancellationToken cancellationToken)
    {
        var members = await Run(() => Mux.GetDatabase().SetMembersAsync(UserKey(userId)), "look up user " + userId).ConfigureAwait(false);
        var nodes = new string[members.Length];
        for (int i = 0; i < members.Length; i++) nodes[i] = members[i].ToString();
        return nodes;
    }

    public async ValueTask ForgetUserNodeAsync(string userId, string nodeId, CancellationToken cancellationToken)
    {
        var db = Mux.GetDatabase();
        await Run(() => Task.WhenAll(db.SetRemoveAsync(UserKey(userId), nodeId), db.SetRemoveAsync(NodeUsersKey(nodeId), userId)), "forget node " + nodeId).ConfigureAwait(false);
    }

    // ---- restore (presence: RedisBackplane.Presence.cs) ------------------------------------------

    private async Task RestoreAsync()
    {
        if (Interlocked.Exchange(ref _restoring, 1) != 0) return;
        try
        {
            await AnnounceAsync(force: true).ConfigureAwait(false);
            await RetryMissingSubscriptionsAsync().ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _restoring, 0);
        }
    }

    private async Task RetryMissingSubscriptionsAsync()
    {
        if (_nodeChannel is { Queue: null }) await TrySubscribeAsync(_nodeChannel).ConfigureAwait(false);
        if (_broadcastChannel is { Queue: null }) await TrySubscribeAsync(_broadcastChannel).ConfigureAwait(false);
        foreach (var subscription in _topics.Values)
        {
            if (subscription.Queue is null) await TrySubscribeAsync(subscription).ConfigureAwait(false);
        }
    }

    /// <summary>Subscribes unless done already; false when Redis could not be reached (the subscription stays wanted).</summary>
    private async Task<bool> TrySubscribeAsync(Subscription subscription)
    {
        if (subscription.Queue is not null) return true;
        await subscription.Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (subscription.Removed) return true;
            if (subscription.Queue is not null) return true;
            var queue = await Mux.GetSubscriber().SubscribeAsync(subscription.Channel).ConfigureAwait(false);
            // One handler per channel, called for one message at a time: messages keep their order.
            queue.OnMessage(subscription.Handler);
            subscription.Queue = queue;
            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            RedisLog.OperationFailed(_log, "subscribe to " + subscription.Channel, ex.Message);
            // StackExchange.Redis registered the queue before the SUBSCRIBE failed and keeps it: nobody would ever read
            // it (its messages pile up) and it would keep the channel subscribed after our own unsubscribe. This node
            // holds no other queue on the channel (Queue is null), so drop everything on it; the local part is done
            // at once, the UNSUBSCRIBE itself is best effort.
            ObserveFailure(Mux.GetSubscriber().UnsubscribeAsync(subscription.Channel));
            return false;
        }
        finally
        {
            subscription.Gate.Release();
        }
    }

    private static void ObserveFailure(Task task) =>
        task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    // ---- helpers ---------------------------------------------------------------------------------

    private async Task<T> Run<T>(Func<Task<T>> operation, string what)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw new BackplaneUnavailableException($"Redis: {what} failed: {ex.Message}", ex);
        }
    }

    private async Task Run(Func<Task> operation, string what)
    {
        try
        {
            await operation().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw new BackplaneUnavailableException($"Redis: {what} failed: {ex.Message}", ex);
        }
    }

    /// <summary>A receiver fault is logged and that message dropped; it must never stop the channel's message loop.</summary>
    private Action<ChannelMessage> Guard(string what, Action<ChannelMessage> handler) => message =>
    {
        try { handler(message); }
        catch (Exception ex) { RedisLog.OperationFailed(_log, "deliver a message from " + what, ex.Message); }
    };

    private static byte[] Origin(string nodeId)
    {
        var id = Encoding.UTF8.GetBytes(nodeId);
        var origin = new byte[id.Length + 1];
        origin[0] = (byte)id.Length;
        id.CopyTo(origin, 1);
        return origin;
    }

    private byte[] WithOrigin(ReadOnlySpan<byte> message)
    {
        var payload = new byte[_origin.Length + message.Length];
        _origin.CopyTo(payload, 0);
        message.CopyTo(payload.AsSpan(_origin.Length));
        return payload;
    }

    /// <summary>Reads the sender's id off a topic message or broadcast; false for this node's own (already delivered here).</summary>
    private bool TryStripOrigin(RedisValue value, out ReadOnlyMemory<byte> body)
    {
        body = default;
        var bytes = (ReadOnlyMemory<byte>)value;
        if (bytes.IsEmpty) return false;
        int n = bytes.Span[0];
        if (bytes.Length < 1 + n) return false;
        if (bytes.Span.Slice(1, n).SequenceEqual(_origin.AsSpan(1))) return false;
        body = bytes[(1 + n)..];
        return true;
    }

    private sealed class Subscription(RedisChannel channel, Action<ChannelMessage> handler)
    {
        public RedisChannel Channel { get; } = channel;
        public Action<ChannelMessage> Handler { get; } = handler;
        public SemaphoreSlim Gate { get; } = new(1, 1);
        public volatile ChannelMessageQueue? Queue;
        public volatile bool Removed;
    }
}
