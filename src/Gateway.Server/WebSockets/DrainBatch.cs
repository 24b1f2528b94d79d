using System.Collections.Concurrent;

namespace Gateway.Server.WebSockets;

/// <summary>
/// Drains deferred to the end of the current read batch. While a read loop handles the messages of one read, frames it
/// queues on other connections (the events of a publish, fanned out to every subscriber) only mark those outboxes; the
/// drains are scheduled once the batch is done. A burst of publishes then reaches each subscriber's socket as one write
/// instead of one per event. The batch never outlives the synchronous part of the read loop (it ends before every
/// await), so nothing waits longer than one read's handling.
/// </summary>
internal static class DrainBatch
{
    [ThreadStatic] private static List<Outbox>? t_pending;
    [ThreadStatic] private static int t_depth;

    public static void Begin() => t_depth++;

    /// <summary>True when the drain is taken care of: deferred to this batch, or already claimed by someone who will run it.</summary>
    public static bool TryDefer(Outbox outbox)
    {
        if (t_depth == 0) return false;
        if (outbox.TryClaim()) (t_pending ??= new List<Outbox>(64)).Add(outbox);
        return true;
    }

    public static void End()
    {
        if (--t_depth > 0) return;
        var pending = t_pending;
        if (pending is null || pending.Count == 0) return;
        if (pending.Count == 1) pending[0].ScheduleClaimed();
        else
        {
            // A work item per chunk of outboxes, not per outbox: a drain is now a send() straight to the socket, a few
            // microseconds, and a work item per subscriber cost about as much again in queueing and dispatch. Chunks
            // still spread a large audience over the cores; the publisher's own reply is not held behind them.
            for (int i = 0; i < pending.Count; i += Chunk.Size)
                ThreadPool.UnsafeQueueUserWorkItem(Chunk.Rent(pending, i), preferLocal: false);
        }
        pending.Clear();
    }

    /// <summary>Claimed drains run one after another on one thread-pool thread; pooled, so a publish allocates nothing.</summary>
    private sealed class Chunk : IThreadPoolWorkItem
    {
        public const int Size = 32;
        private static readonly ConcurrentQueue<Chunk> s_pool = new();
        private readonly Outbox?[] _outboxes = new Outbox?[Size];
        private int _count;

        public static Chunk Rent(List<Outbox> pending, int start)
        {
            if (!s_pool.TryDequeue(out var chunk)) chunk = new Chunk();
            int count = Math.Min(Size, pending.Count - start);
            for (int i = 0; i < count; i++) chunk._outboxes[i] = pending[start + i];
            chunk._count = count;
            return chunk;
        }

        public void Execute()
        {
            for (int i = 0; i < _count; i++)
            {
                var outbox = _outboxes[i]!;
                _outboxes[i] = null;
                // A drain that has to wait (a full pipe) continues on its own; the next one does not wait for it.
                outbox.RunClaimed();
            }
            _count = 0;
            s_pool.Enqueue(this);
        }
    }
}
