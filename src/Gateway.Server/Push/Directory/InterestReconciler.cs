using Microsoft.Extensions.Logging;

namespace Gateway.Server.Push;

/// <summary>
/// Backplane interest (a topic or a user on this node) as desired state, reconciled per key under a striped lock, so
/// the subscribe/unsubscribe transitions of one key reach the broker in order.
/// </summary>
internal sealed class InterestReconciler
{
    private readonly ClusterLink _link;
    private readonly SemaphoreSlim[] _stripes;

    public InterestReconciler(ClusterLink link)
    {
        _link = link;
        _stripes = new SemaphoreSlim[64];
        for (int i = 0; i < _stripes.Length; i++) _stripes[i] = new SemaphoreSlim(1, 1);
    }

    public ILogger Log => _link.Log;

    /// <summary>Brings the backplane in line with whether <paramref name="key"/> has local members, then drops an empty entry.</summary>
    public async Task ReconcileAsync(InterestMap map, string key, CancellationToken cancellationToken)
    {
        var gate = _stripes[(StringComparer.Ordinal.GetHashCode(key) & 0x7FFFFFFF) % _stripes.Length];
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var backplane = _link.Backplane;
            while (true)
            {
                bool want = map.Local.TryGetValue(key, out var interest) && interest.Count > 0;
                bool have = map.Remote.ContainsKey(key);
                if (want == have)
                {
                    if (!want && interest is not null && interest.TryRetire()) map.Local.TryRemove(new KeyValuePair<string, Interest>(key, interest));
                    return;
                }
                if (!_link.IsLive)
                {
                    if (want) map.Remote[key] = 0; else map.Remote.TryRemove(key, out _);
                    continue;
                }
                try
                {
                    if (want)
                    {
                        // Desired state first: even if the broker is unreachable now, the backplane restores it on reconnect.
                        map.Remote[key] = 0;
                        // Not cancellable once started: a half-done transition would leave the desired state wrong.
                        if (map.IsTopic) await backplane.SubscribeAsync(key, CancellationToken.None).ConfigureAwait(false);
                        else await backplane.AddUserAsync(key, CancellationToken.None).ConfigureAwait(false);
                    }
                    else
                    {
                        map.Remote.TryRemove(key, out _);
                        if (map.IsTopic) await backplane.UnsubscribeAsync(key, CancellationToken.None).ConfigureAwait(false);
                        else await backplane.RemoveUserAsync(key, CancellationToken.None).ConfigureAwait(false);
                    }
                }
                catch (Exception ex)
                {
                    // While this node leaves the cluster its connections close and their topics empty: nothing to report then.
                    if (_link.IsStopped) continue;
                    _link.Metrics.BackplaneError();
                    PushLog.BackplaneFailed(_link.Log, (want ? "subscribe " : "unsubscribe ") + (map.IsTopic ? "topic " : "user ") + key, ex.Message);
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }
}
