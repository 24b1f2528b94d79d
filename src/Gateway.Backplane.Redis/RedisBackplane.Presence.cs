using StackExchange.Redis;

namespace Gateway.Backplane.Redis;

/// <summary>
/// Presence: each node keeps a key that expires after three heartbeats and, on every beat, writes again what a restart
/// or a cut-off lost, and removes the nodes whose key expired from the users they held (they died without leaving).
/// </summary>
public sealed partial class RedisBackplane
{
    private async Task HeartbeatLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.HeartbeatInterval);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!IsConnected) continue;
            try
            {
                // A first announce that never happened (Redis was down at start) is forced, so the nodes set gets this node.
                await AnnounceAsync(force: !_announced).ConfigureAwait(false);
                await RetryMissingSubscriptionsAsync().ConfigureAwait(false);
                await RetryUsersAsync().ConfigureAwait(false);
                await RemoveDeadNodesAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The heartbeat must outlive any single failure, or presence would expire under a live node.
                RedisLog.OperationFailed(_log, "heartbeat", ex.Message);
            }
        }
    }

    /// <summary>
    /// Refreshes this node's presence. When the key was gone (first start, Redis restarted empty, or the node was
    /// cut off long enough to be taken for dead), every registration of this node is written again.
    /// </summary>
    private async Task AnnounceAsync(bool force)
    {
        if (_mux is null || !_mux.IsConnected) return;
        try
        {
            var db = _mux.GetDatabase();
            bool fresh = await db.StringSetAsync(PresenceKey(_nodeId), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), PresenceTtl, When.NotExists).ConfigureAwait(false);
            if (!fresh) await db.KeyExpireAsync(PresenceKey(_nodeId), PresenceTtl).ConfigureAwait(false);
            if (fresh || force)
            {
                var writes = new List<Task> { db.SetAddAsync(NodesKey, _nodeId) };
                foreach (var user in _users.Keys)
                {
                    writes.Add(db.SetAddAsync(UserKey(user), _nodeId));
                    writes.Add(db.SetAddAsync(NodeUsersKey(_nodeId), user));
                }
                // And the other half of the desired state: users this node no longer holds whose removal could not
                // reach Redis when it was made (cut off), or other nodes would keep routing them here.
                foreach (var member in await db.SetMembersAsync(NodeUsersKey(_nodeId)).ConfigureAwait(false))
                {
                    string user = member.ToString();
                    if (_users.ContainsKey(user)) continue;
                    writes.Add(db.SetRemoveAsync(UserKey(user), _nodeId));
                    writes.Add(db.SetRemoveAsync(NodeUsersKey(_nodeId), user));
                }
                await Task.WhenAll(writes).ConfigureAwait(false);
                if (fresh && !force) RedisLog.Reannounced(_log, _nodeId, _users.Count);
            }
            _announced = true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            RedisLog.OperationFailed(_log, "announce this node", ex.Message);
        }
    }

    /// <summary>Nodes whose presence expired died without leaving: remove them from the users they held.</summary>
    private async Task RemoveDeadNodesAsync()
    {
        try
        {
            var db = Mux.GetDatabase();
            foreach (var member in await db.SetMembersAsync(NodesKey).ConfigureAwait(false))
            {
                string node = member.ToString();
                if (node == _nodeId || await db.KeyExistsAsync(PresenceKey(node)).ConfigureAwait(false)) continue;
                var users = await db.SetMembersAsync(NodeUsersKey(node)).ConfigureAwait(false);
                var removals = users.Select(u => (Task)db.SetRemoveAsync(UserKey(u.ToString()), node)).ToList();
                await Task.WhenAll(removals).ConfigureAwait(false);
                await db.KeyDeleteAsync(NodeUsersKey(node)).ConfigureAwait(false);
                await db.SetRemoveAsync(NodesKey, node).ConfigureAwait(false);
                RedisLog.DeadNodeRemoved(_log, node, users.Length);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            RedisLog.OperationFailed(_log, "remove dead nodes", ex.Message);
        }
    }
}
