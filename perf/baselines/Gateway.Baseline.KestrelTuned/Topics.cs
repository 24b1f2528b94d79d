using System.Collections.Concurrent;

namespace Gateway.Baseline.KestrelTuned;

/// <summary>One topic's subscribers: a copy-on-write array, so a publish reads it without a lock.</summary>
public sealed class Topic(string name)
{
    private readonly Lock _lock = new();
    private Connection[] _subscribers = [];

    public string Name { get; } = name;
    public Connection[] Subscribers => Volatile.Read(ref _subscribers);

    public bool Add(Connection connection)
    {
        lock (_lock)
        {
            if (Array.IndexOf(_subscribers, connection) >= 0) return false;
            var next = new Connection[_subscribers.Length + 1];
            _subscribers.CopyTo(next, 0);
            next[^1] = connection;
            Volatile.Write(ref _subscribers, next);
            return true;
        }
    }

    public void Remove(Connection connection)
    {
        lock (_lock)
        {
            int at = Array.IndexOf(_subscribers, connection);
            if (at < 0) return;
            var next = new Connection[_subscribers.Length - 1];
            Array.Copy(_subscribers, 0, next, 0, at);
            Array.Copy(_subscribers, at + 1, next, at, _subscribers.Length - at - 1);
            Volatile.Write(ref _subscribers, next);
        }
    }
}

public sealed class TopicTable
{
    private readonly ConcurrentDictionary<string, Topic> _topics = new(StringComparer.Ordinal);

    public Topic GetOrAdd(string name) => _topics.GetOrAdd(name, static n => new Topic(n));
    public Topic? Find(string name) => _topics.GetValueOrDefault(name);

    /// <summary>
    /// Serialized once, queued to every subscriber's outbox by reference. A subscriber more than
    /// <see cref="Outbox.SlowConsumerBytes"/> behind is dropped rather than allowed to hold the publisher back.
    /// </summary>
    public static void Publish(Topic topic, byte[] buffer, int length)
    {
        var subscribers = topic.Subscribers;
        if (subscribers.Length == 0)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            return;
        }
        var shared = new SharedPayload(buffer, length, subscribers.Length);
        foreach (var subscriber in subscribers)
        {
            if (subscriber.Outbox.QueuedBytes > Outbox.SlowConsumerBytes)
            {
                shared.Release();
                subscriber.Abort();
                continue;
            }
            subscriber.Outbox.TryEnqueue(new OutFrame(shared));
        }
    }
}
