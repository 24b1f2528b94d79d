using System.Text;
using Gateway.Backplane;

namespace Gateway.Backplane.Redis.Tests.Infrastructure;

public enum Kind { Topic, Broadcast, Node }

public sealed record Received(Kind Kind, string? Topic, string Text);

/// <summary>
/// An <see cref="IBackplaneReceiver"/> that records every callback (messages as UTF-8 text) and lets a test await a
/// condition over what arrived, with a timeout; it also notices callbacks that overlap (the contract forbids it per channel).
/// </summary>
public sealed class RecordingReceiver : IBackplaneReceiver
{
    private readonly object _gate = new();
    private readonly List<Received> _messages = [];
    private readonly List<(Func<IReadOnlyList<Received>, bool> Condition, TaskCompletionSource Done)> _waiters = [];
    private int _inCallback;

    public int OverlappingCallbacks;

    public IReadOnlyList<Received> Messages
    {
        get { lock (_gate) return _messages.ToArray(); }
    }

    public IReadOnlyList<Received> Of(Kind kind, string? topic = null) =>
        Messages.Where(m => m.Kind == kind && (topic is null || m.Topic == topic)).ToList();

    public void OnTopicMessage(string topic, ReadOnlyMemory<byte> message) => Record(new Received(Kind.Topic, topic, Encoding.UTF8.GetString(message.Span)));
    public void OnBroadcast(ReadOnlyMemory<byte> message) => Record(new Received(Kind.Broadcast, null, Encoding.UTF8.GetString(message.Span)));
    public void OnNodeMessage(ReadOnlyMemory<byte> message) => Record(new Received(Kind.Node, null, Encoding.UTF8.GetString(message.Span)));

    private void Record(Received message)
    {
        if (Interlocked.Increment(ref _inCallback) > 1) Interlocked.Increment(ref OverlappingCallbacks);
        try
        {
            List<TaskCompletionSource>? done = null;
            lock (_gate)
            {
                _messages.Add(message);
                for (int i = _waiters.Count - 1; i >= 0; i--)
                {
                    if (!_waiters[i].Condition(_messages)) continue;
                    (done ??= []).Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
            if (done is not null) foreach (var d in done) d.TrySetResult();
        }
        finally
        {
            Interlocked.Decrement(ref _inCallback);
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds over everything received so far; throws TimeoutException.</summary>
    public async Task WaitUntilAsync(Func<IReadOnlyList<Received>, bool> condition, string what, TimeSpan? timeout = null)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (condition(_messages)) return;
            _waiters.Add((condition, done));
        }
        var limit = timeout ?? TimeSpan.FromSeconds(10);
        try
        {
            await done.Task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            lock (_gate) _waiters.RemoveAll(w => w.Done == done);
            throw new TimeoutException($"not within {limit.TotalSeconds:0.#} s: {what}; received {Messages.Count}: {string.Join(" | ", Messages.TakeLast(10))}");
        }
    }

    /// <summary>Waits for a message of that kind (and topic) with exactly that text.</summary>
    public Task WaitForAsync(Kind kind, string text, string? topic = null, TimeSpan? timeout = null) =>
        WaitUntilAsync(ms => ms.Any(m => m.Kind == kind && m.Text == text && (topic is null || m.Topic == topic)),
            $"a {kind} message '{text}'" + (topic is null ? "" : $" on {topic}"), timeout);
}
