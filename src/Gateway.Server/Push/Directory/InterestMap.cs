using System.Collections.Concurrent;

namespace Gateway.Server.Push;

/// <summary>
/// The local members of every topic (or of every user) on this node, and the keys the backplane has been told about
/// (desired state, kept even when telling it failed, so the backplane can restore it on reconnect).
/// </summary>
internal sealed class InterestMap(bool isTopic, InterestReconciler reconciler)
{
    internal readonly ConcurrentDictionary<string, Interest> Local = new(StringComparer.Ordinal);
    internal readonly ConcurrentDictionary<string, byte> Remote = new(StringComparer.Ordinal);

    public bool IsTopic => isTopic;
    /// <summary>Keys with at least one member on this node (or being emptied).</summary>
    public int Count => Local.Count;
    public bool Contains(string key) => Local.ContainsKey(key);
    public int MemberCount(string key) => Local.TryGetValue(key, out var interest) ? interest.Count : 0;
    public bool TryGet(string key, out Interest interest) => Local.TryGetValue(key, out interest!);

    public void Add(string key, PushState member)
    {
        while (true)
        {
            var interest = Local.GetOrAdd(key, static k => new Interest(k));
            if (interest.TryAdd(member)) return;
            // That one was emptied and removed meanwhile: take the new one.
        }
    }

    /// <summary>Takes a member out; when it was the last, the backplane is told in the background.</summary>
    public void Remove(string key, PushState member)
    {
        if (RemoveAndCheckEmpty(key, member)) _ = ReconcileInBackgroundAsync(key);
    }

    /// <summary>Takes a member out; true when the key has no member left (the caller reconciles).</summary>
    public bool RemoveAndCheckEmpty(string key, PushState member) =>
        Local.TryGetValue(key, out var interest) && interest.Remove(member) && interest.Count == 0;

    /// <summary>Brings the backplane in line with whether <paramref name="key"/> has local members.</summary>
    public Task ReconcileAsync(string key, CancellationToken cancellationToken) => reconciler.ReconcileAsync(this, key, cancellationToken);

    private async Task ReconcileInBackgroundAsync(string key)
    {
        try { await ReconcileAsync(key, CancellationToken.None).ConfigureAwait(false); }
        catch (Exception ex) { PushLog.BackplaneFailed(reconciler.Log, isTopic ? "unsubscribe " + key : "remove user", ex.Message); }
    }
}
