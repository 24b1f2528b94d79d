using System.Collections.Concurrent;

namespace Gateway.TestPlugin;

/// <summary>
/// What the test procedures observed, kept in a singleton of the plugin. The plugin lives in its own
/// AssemblyLoadContext, so tests read this over the wire (test/wasCancelled, test/events, ...), never directly.
/// Every wait is a TaskCompletionSource per key with a bounded timeout: no polling.
/// </summary>
public sealed class TestState
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _started = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _cancelled = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _ended = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _release = new(StringComparer.Ordinal);
    private readonly object _lock = new();
    private readonly List<string> _events = new();
    private readonly List<string> _startedKeys = new();
    private readonly List<(int Count, TaskCompletionSource Waiter)> _startedWaiters = new();
    private readonly List<long> _order = new();
    private readonly HashSet<string> _cancelledKeys = new(StringComparer.Ordinal);

    private static TaskCompletionSource Get(ConcurrentDictionary<string, TaskCompletionSource> map, string key) =>
        map.GetOrAdd(key, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public void Record(string evt)
    {
        lock (_lock) _events.Add(evt);
    }

    public string[] Events()
    {
        lock (_lock) return _events.ToArray();
    }

    public void MarkStarted(string key)
    {
        List<TaskCompletionSource> ready = new();
        lock (_lock)
        {
            _events.Add("start:" + key);
            _startedKeys.Add(key);
            for (int i = _startedWaiters.Count - 1; i >= 0; i--)
            {
                if (_startedKeys.Count >= _startedWaiters[i].Count)
                {
                    ready.Add(_startedWaiters[i].Waiter);
                    _startedWaiters.RemoveAt(i);
                }
            }
        }
        Get(_started, key).TrySetResult();
        foreach (var w in ready) w.TrySetResult();
    }

    public void MarkCancelled(string key)
    {
        var tcs = Get(_cancelled, key);
        lock (_lock)
        {
            if (!_cancelledKeys.Add(key)) return;
            _events.Add("cancel:" + key);
        }
        tcs.TrySetResult();
    }

    public void MarkEnded(string key)
    {
        Record("end:" + key);
        Get(_ended, key).TrySetResult();
    }

    public bool Release(string key) => Get(_release, key).TrySetResult();

    public Task ReleaseTask(string key) => Get(_release, key).Task;

    public string[] StartedKeys()
    {
        lock (_lock) return _startedKeys.ToArray();
    }

    /// <summary>Waits (bounded) until at least <paramref name="count"/> waits started; returns how many did.</summary>
    public async Task<int> WaitStartedAsync(int count, TimeSpan timeout)
    {
        TaskCompletionSource waiter;
        lock (_lock)
        {
            if (_startedKeys.Count >= count) return _startedKeys.Count;
            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _startedWaiters.Add((count, waiter));
        }
        try { await waiter.Task.WaitAsync(timeout); }
        catch (TimeoutException) { }
        lock (_lock)
        {
            _startedWaiters.RemoveAll(w => w.Waiter == waiter);
            return _startedKeys.Count;
        }
    }

    public static async Task<bool> WaitAsync(Task task, TimeSpan timeout)
    {
        try
        {
            await task.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public Task<bool> WasStartedAsync(string key, TimeSpan timeout) => WaitAsync(Get(_started, key).Task, timeout);
    public Task<bool> WasCancelledAsync(string key, TimeSpan timeout) => WaitAsync(Get(_cancelled, key).Task, timeout);
    public Task<bool> WasEndedAsync(string key, TimeSpan timeout) => WaitAsync(Get(_ended, key).Task, timeout);

    public void RecordOrder(long seq)
    {
        lock (_lock) _order.Add(seq);
    }

    public long[] Order()
    {
        lock (_lock) return _order.ToArray();
    }
}
