using System.Buffers;
using Gateway.Server.Transport;

namespace Gateway.Server.Tests;

/// <summary>
/// The pipes' block pool lets go of what a burst left behind: <see cref="BlockMemoryPool.Trim"/> drops the blocks that
/// no rent needed since the previous trim (beyond a reserve), and never one a rent needed in that interval.
/// </summary>
public sealed class BlockPoolTrimTests
{
    private static List<IMemoryOwner<byte>> RentMany(BlockMemoryPool pool, int count)
    {
        var rented = new List<IMemoryOwner<byte>>(count);
        for (int i = 0; i < count; i++) rented.Add(pool.Rent(BlockMemoryPool.BlockSize));
        return rented;
    }

    [Fact]
    public void A_burst_is_kept_through_the_interval_it_happened_in_and_dropped_after_one_without_use()
    {
        var pool = new BlockMemoryPool();
        var burst = RentMany(pool, 100);
        Assert.Equal(100, pool.Created);
        foreach (var block in burst) block.Dispose();
        Assert.Equal(100, pool.Free);

        // The interval had the burst in it (the pool was empty when it grew): nothing goes.
        Assert.Equal(0, pool.Trim(keep: 10));
        Assert.Equal(100, pool.Free);

        // A whole interval without a rent: all but the reserve go.
        Assert.Equal(90, pool.Trim(keep: 10));
        Assert.Equal(10, pool.Free);

        // Blocks are reused before any is made again.
        var again = RentMany(pool, 10);
        Assert.Equal(100, pool.Created);
        foreach (var block in again) block.Dispose();
    }

    [Fact]
    public void Only_the_blocks_unused_for_the_whole_interval_go()
    {
        var pool = new BlockMemoryPool();
        foreach (var block in RentMany(pool, 50)) block.Dispose();
        pool.Trim(keep: 0); // starts the watch: 50 free
        // In use at some point: 30 of the 50 (20 never left the pool).
        var busy = RentMany(pool, 30);
        foreach (var block in busy) block.Dispose();
        Assert.Equal(20, pool.Trim(keep: 0));
        Assert.Equal(30, pool.Free);
        Assert.Equal(50, pool.Created);
    }

    [Fact]
    public void A_rent_that_finds_the_pool_empty_keeps_everything_for_that_interval()
    {
        var pool = new BlockMemoryPool();
        foreach (var block in RentMany(pool, 20)) block.Dispose();
        pool.Trim(keep: 0);
        var all = RentMany(pool, 21); // one more than the pool holds: made new
        Assert.Equal(21, pool.Created);
        foreach (var block in all) block.Dispose();
        Assert.Equal(0, pool.Trim(keep: 0));
        Assert.Equal(21, pool.Free);
    }
}
