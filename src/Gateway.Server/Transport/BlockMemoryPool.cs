using System.Buffers;
using System.Collections.Concurrent;

namespace Gateway.Server.Transport;

/// <summary>
/// The pipes' memory: fixed 4 KiB blocks kept in a lock-free queue and reused forever (Kestrel's pinned block
/// pool, simplified). ArrayPool.Shared keeps only a few arrays per thread and core, so with many connections
/// each holding blocks across threads (rented by the receive loop, returned by the session) most rents ended
/// up allocating. The pool grows to the peak number of blocks in use and never shrinks.
/// </summary>
internal sealed class BlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 4096;
    private readonly ConcurrentQueue<Block> _free = new();

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > BlockSize) return new Oversized(minBufferSize);
        if (_free.TryDequeue(out var block)) return block.Lease();
        return new Block(this).Lease();
    }

    protected override void Dispose(bool disposing) { }

    private void Return(Block block) => _free.Enqueue(block);

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
