namespace Gateway.AuthzPlugin;

/// <summary>
/// What the plugin's filters, hooks and handlers saw, in order. The plugin lives in its own load context, so the tests
/// read it over the wire (journal/*). Waits are bounded and signalled, never polled.
/// </summary>
public sealed class Journal
{
    private readonly object _lock = new();
    private readonly List<string> _lines = new();
    private readonly List<(string Line, TaskCompletionSource Seen)> _waiters = new();

    public void Add(string line)
    {
        List<TaskCompletionSource> ready = new();
        lock (_lock)
        {
            _lines.Add(line);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Line == line)
                {
                    ready.Add(_waiters[i].Seen);
                    _waiters.RemoveAt(i);
                }
            }
        }
        foreach (var r in ready) r.TrySetResult();
    }

    public string[] Lines()
    {
        lock (_lock) return _lines.ToArray();
    }

    /// <summary>Waits (bounded) until <paramref name="line"/> has been added.</summary>
    public async Task<bool> WaitForAsync(string line, TimeSpan timeout)
    {
        TaskCompletionSource seen;
        lock (_lock)
        {
            if (_lines.Contains(line)) return true;
            seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((line, seen));
        }
        try
        {
            await seen.Task.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}
