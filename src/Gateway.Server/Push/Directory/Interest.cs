using Gateway.Server.WebSockets;

namespace Gateway.Server.Push;

/// <summary>The local members of a topic or a user, with a snapshot for lock-free iteration rebuilt only after a change.</summary>
internal sealed class Interest(string key)
{
    private readonly HashSet<PushState> _members = new(ReferenceEqualityComparer.Instance);
    private Audience? _snapshot = Audience.Empty;
    private bool _retired;

    public string Key { get; } = key;

    public int Count
    {
        get { lock (_members) return _members.Count; }
    }

    /// <summary>False when this entry was retired (emptied and being removed): use a fresh one.</summary>
    public bool TryAdd(PushState connection)
    {
        lock (_members)
        {
            if (_retired) return false;
            if (_members.Add(connection)) _snapshot = null;
            return true;
        }
    }

    public bool Remove(PushState connection)
    {
        lock (_members)
        {
            if (!_members.Remove(connection)) return false;
            _snapshot = null;
            return true;
        }
    }

    /// <summary>Marks an empty entry as retired so nobody joins it after it leaves the map.</summary>
    public bool TryRetire()
    {
        lock (_members)
        {
            if (_members.Count > 0) return false;
            _retired = true;
            return true;
        }
    }

    /// <summary>The members' sessions grouped by wire format, as the fan-out loop wants them (no hop through the push state).</summary>
    public Audience Snapshot()
    {
        var snapshot = Volatile.Read(ref _snapshot);
        if (snapshot is not null) return snapshot;
        lock (_members)
        {
            if (_snapshot is { } built) return built;
            return _snapshot = Audience.Of(_members);
        }
    }
}
