namespace Gateway.Protocol.Compression;

/// <summary>
/// A bounded stack of idle native streams of one kind (one level and window size). Streams are taken for one message
/// and given back right after, so how many exist follows how many messages are being compressed or inflated at the
/// same moment (about the number of cores), not how many connections are open. Past <see cref="Capacity"/> a
/// returned stream is freed instead of kept.
/// </summary>
internal sealed class ZLibStreamPool<T>(Func<T> create, int capacity) where T : class, IDisposable
{
    private readonly T?[] _items = new T?[capacity];
    private int _count;
    private long _created;

    public int Capacity => _items.Length;
    /// <summary>Streams created so far (a busy server's working set; tests and benchmarks read it).</summary>
    public long Created => Volatile.Read(ref _created);
    /// <summary>Streams idle in the pool now.</summary>
    public int Idle => Volatile.Read(ref _count);

    public T Rent()
    {
        lock (_items)
        {
            if (_count > 0)
            {
                var item = _items[--_count]!;
                _items[_count] = null;
                return item;
            }
        }
        Interlocked.Increment(ref _created);
        return create();
    }

    public void Return(T item)
    {
        lock (_items)
        {
            if (_count < _items.Length)
            {
                _items[_count++] = item;
                return;
            }
        }
        item.Dispose();
    }
}
