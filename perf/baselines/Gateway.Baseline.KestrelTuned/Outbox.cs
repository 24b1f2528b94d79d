using System.Buffers;
using System.Threading.Channels;

namespace Gateway.Baseline.KestrelTuned;

/// <summary>A serialized message shared by many outboxes (a published event): its buffer goes back to the pool with the last reference.</summary>
public sealed class SharedPayload(byte[] buffer, int length, int references)
{
    private int _references = references;
    public byte[] Buffer { get; } = buffer;
    public int Length { get; } = length;

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0) ArrayPool<byte>.Shared.Return(Buffer);
    }
}

/// <summary>A stream in progress: the request's id (raw JSON token), written into each item by the connection's writer.</summary>
public sealed class StreamState(byte[] id)
{
    public byte[] Id { get; } = id;
}

/// <summary>
/// One message waiting to be sent: a pooled buffer owned by this frame alone, a reference to a shared payload (an
/// event), or a stream item that the writer serializes itself when it sends it, straight into its batch. Items are
/// not serialized by the producer because a 1,000-item subscription queued as 1,000 rented buffers outruns the
/// array pool (its per-core stacks hold a few dozen arrays per size) and turns every item into garbage.
/// </summary>
public readonly struct OutFrame
{
    /// <summary>Bytes counted against the outbox's limits for an item (its serialized size is about this).</summary>
    public const int ItemBytes = 32;

    private readonly byte[]? _buffer;
    private readonly SharedPayload? _shared;
    public readonly StreamState? Stream;
    /// <summary>For an item: its index, or -1 for the stream's end.</summary>
    public readonly int Item;
    public readonly int Length;

    public OutFrame(byte[] pooledBuffer, int length) { _buffer = pooledBuffer; Length = length; }
    public OutFrame(SharedPayload shared) { _buffer = shared.Buffer; Length = shared.Length; _shared = shared; }
    private OutFrame(StreamState stream, int item) { Stream = stream; Item = item; Length = ItemBytes; }

    public static OutFrame StreamItem(StreamState stream, int item) => new(stream, item);
    public static OutFrame StreamEnd(StreamState stream) => new(stream, -1);

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    public void Release()
    {
        if (_shared is { } s) s.Release();
        else if (_buffer is { } b) ArrayPool<byte>.Shared.Return(b);
    }
}

/// <summary>
/// The queue between everything that produces messages for a connection (its receive loop, its streams, publishers
/// on other connections) and its single writer: an unbounded single-reader channel (a lock-free queue inside), with
/// the queued bytes counted so producers can be held back (replies, streams) or the connection dropped (fan-out to a
/// consumer that does not read).
/// </summary>
public sealed class Outbox
{
    /// <summary>Over this many queued bytes the receive loop and streams wait; they resume below <see cref="LowWater"/>.</summary>
    public const long HighWater = 1024 * 1024, LowWater = 256 * 1024;
    /// <summary>A subscriber this far behind is dropped instead of slowing the publisher (the gateway's slow-consumer rule).</summary>
    public const long SlowConsumerBytes = 4 * 1024 * 1024;

    private readonly Channel<OutFrame> _channel = Channel.CreateUnbounded<OutFrame>(new UnboundedChannelOptions
    {
        SingleReader = true,
        SingleWriter = false,
        AllowSynchronousContinuations = false,
    });
    private long _queuedBytes;
    private TaskCompletionSource? _room;
    private readonly Lock _roomLock = new();

    public ChannelReader<OutFrame> Reader => _channel.Reader;
    public long QueuedBytes => Volatile.Read(ref _queuedBytes);
    public bool IsOverHighWater => Volatile.Read(ref _queuedBytes) > HighWater;

    /// <summary>Queues the frame, or releases it and returns false once the connection is closing.</summary>
    public bool TryEnqueue(in OutFrame frame)
    {
        Interlocked.Add(ref _queuedBytes, frame.Length);
        if (_channel.Writer.TryWrite(frame)) return true;
        Interlocked.Add(ref _queuedBytes, -frame.Length);
        frame.Release();
        return false;
    }

    /// <summary>Called by the writer for each frame it has written.</summary>
    public void OnSent(int length)
    {
        long left = Interlocked.Add(ref _queuedBytes, -length);
        if (left <= LowWater && Volatile.Read(ref _room) is not null) ReleaseWaiters();
    }

    /// <summary>Completes when the queue is back under the high-water mark (at once when it is).</summary>
    public Task WaitForRoomAsync()
    {
        TaskCompletionSource room;
        lock (_roomLock)
        {
            if (!IsOverHighWater) return Task.CompletedTask;
            room = _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        // The writer may have drained below the mark between the check and the install.
        if (!IsOverHighWater) ReleaseWaiters();
        return room.Task;
    }

    private void ReleaseWaiters()
    {
        TaskCompletionSource? room;
        lock (_roomLock) { room = _room; _room = null; }
        room?.TrySetResult();
    }

    /// <summary>No more frames: the writer sends what is queued and stops; waiters are released.</summary>
    public void Complete()
    {
        _channel.Writer.TryComplete();
        ReleaseWaiters();
    }

    /// <summary>Releases whatever the writer did not send (the connection failed).</summary>
    public void ReleaseQueued()
    {
        while (_channel.Reader.TryRead(out var frame)) frame.Release();
    }
}
