using System.Buffers;
using System.Collections.Concurrent;

namespace Gateway.Server.Transport;

/// <summary>
/// The pipes' memory: fixed 4 KiB blocks kept in a lock-free queue and reused (Kestrel's pinned block pool,
/// simplified). ArrayPool.Shared keeps only a few arrays per thread and core, so with many connections each holding
/// blocks across threads (rented by the receive loop, returned by the session) most rents ended up allocating. The
/// pool grows to the peak number of blocks in use; <see cref="Trim"/> (the heartbeat, every
/// <see cref="Heartbeat.HeartbeatLoop.PoolTrimInterval"/>) lets go of the blocks no rent needed for a whole interval,
/// so a burst (thousands of clients answering at once) does not hold its peak for the life of the process.
/// </summary>
internal sealed class BlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 4096;
    private readonly ConcurrentQueue<Block> _free = new();
    // Blocks in _free (approximate while a rent or return is in progress), and the fewest there were since the last trim:
    // that many sat unused for the whole interval. Starts at 0, so nothing goes before one full interval was watched.
    private int _freeCount;
    private int _lowWater;
    private int _created;
    /// <summary>Blocks ever made (tests and diagnostics).</summary>
    internal int Created => Volatile.Read(ref _created);
    /// <summary>Blocks made and not let go by a trim: in use or free.</summary>
    internal int Held => Volatile.Read(ref _held);
    private int _held;
    /// <summary>Blocks waiting in the pool.</summary>
    internal int Free => Volatile.Read(ref _freeCount);

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > BlockSize) return new Oversized(minBufferSize);
        if (_free.TryDequeue(out var block))
        {
            int left = Interlocked.Decrement(ref _freeCount);
            if (left < Volatile.Read(ref _lowWater)) Volatile.Write(ref _lowWater, left);
            return block.Lease();
        }
        Volatile.Write(ref _lowWater, 0);
        Interlocked.Increment(ref _created);
        Interlocked.Increment(ref _held);
        return new Block(this).Lease();
    }

    /// <summary>
    /// Drops the blocks that stayed in the pool since the last trim, beyond <paramref name="keep"/>; the GC reclaims them
    /// (they live on the pinned object heap). Returns how many went.
    /// </summary>
    public int Trim(int keep)
    {
        int surplus = Volatile.Read(ref _lowWater) - keep;
        int dropped = 0;
        while (dropped < surplus && _free.TryDequeue(out _))
        {
            Interlocked.Decrement(ref _freeCount);
            dropped++;
        }
        if (dropped > 0) Interlocked.Add(ref _held, -dropped);
        Volatile.Write(ref _lowWater, Volatile.Read(ref _freeCount));
        return dropped;
    }

    protected override void Dispose(bool disposing) { }

    private void Return(Block block)
    {
        _free.Enqueue(block);
        Interlocked.Increment(ref _freeCount);
    }

    private sealed class Block(BlockMemoryPool pool) : IMemoryOwner<byte>
    {
        // Allocated on the pinned object heap: socket I/O pins it anyway, and the GC never has to move it.
        private readonly byte[] _array = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);
        private int _leased;

        public Memory<byte> Memory => _array;

        public Block Lease()
        {
            _leased = 1;
            return this;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _leased, 0) == 1) pool.Return(this);
        }
    }

    // Pipes ask for at most their segment size; anything larger is a plain array, not pooled.
    private sealed class Oversized(int size) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory { get; } = new byte[size];
        public void Dispose() { }
    }
}
