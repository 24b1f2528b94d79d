using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Gateway.Protocol.Compression;
using Gateway.Protocol.WebSockets;
using Gateway.Server.Transport;

namespace Gateway.Server.WebSockets;

/// <summary>
/// The one writer of a connection's output pipe. Frames from any thread (handlers completing, the
/// heartbeat, publishers) go into a lock-free queue; whoever wins the <c>_busy</c> flag drains the
/// queue into the pipe and flushes once for the whole batch (Orleans' send worker, without a
/// dedicated thread or task per connection). The read loop drains inline at the end of each read,
/// so a request answered synchronously costs no thread hop. Once a close frame has been written
/// nothing more is, so a peer never sees data after our close.
/// </summary>
internal sealed class Outbox : IThreadPoolWorkItem
{
    private readonly PipeWriter _writer;
    // Made by the first frame (about 1.5 KiB: a ConcurrentQueue starts with a 32-slot segment), so a connection that has
    // never been sent anything holds none.
    private ConcurrentQueue<PooledFrame>? _queue;
    private int _busy;
    // Producers add to _enqueuedTotal (one atomic add per frame); only the drainer, one at a time under _busy,
    // writes _drainedTotal and _discardedTotal, so those need no atomic operation.
    private long _enqueuedTotal;
    private long _drainedTotal;
    private long _discardedTotal;
    // A keep-alive ping waiting for the drain, outside the queue: the ping every idle connection gets would otherwise make
    // its queue (1.5 KiB) for good. 1 while one is pending; its payload is the latest asked for.
    private int _pingPending;
    private long _pingPayload;
    private const int PingFrameLength = 10; // FIN|ping, length 8, the 8-byte payload (server frames are not masked)
    // The pong owed for the client's latest ping when its payload is 8 bytes or fewer (all clients we know of), for the
    // same reason: the pong to a client's keep-alive would make the queue too. Guarded by locking this outbox (only a
    // ping from the client and the drain take it); _pongLength is -1 while none is pending.
    private long _pongPayload;
    private int _pongLength = -1;
    internal const int InlinePongPayload = 8;
    private volatile bool _closeWritten;
    private volatile bool _completeRequested;
    private TaskCompletionSource? _completed;

    // permessage-deflate, when negotiated: the drain compresses, so frames reach the wire compressed in queue order.
    private readonly MessageDeflater? _deflater;

    // The transport whose output _writer is, for the direct send (null: everything goes through the pipe).
    private readonly SocketConnection? _transport;

    public Outbox(PipeWriter writer, MessageDeflater? deflater = null, SocketConnection? transport = null)
    {
        _writer = writer;
        _deflater = deflater;
        _transport = transport;
    }

    /// <summary>Bytes queued but not yet handed to the pipe.</summary>
    public long PendingBytes => Volatile.Read(ref _enqueuedTotal) - Volatile.Read(ref _drainedTotal);
    public bool CloseWritten => _closeWritten;
    /// <summary>Bytes ever accepted, less those discarded after close and those compression saved: compare with what the transport sent.</summary>
    public long AcceptedBytes => Volatile.Read(ref _enqueuedTotal) - Volatile.Read(ref _discardedTotal);

    /// <summary>Queues a frame (ownership passes to the outbox). Drains on the thread pool unless <paramref name="deferDrain"/>.</summary>
    public bool Enqueue(PooledFrame frame, bool deferDrain)
    {
        if (_completeRequested)
        {
            frame.Return();
            return false;
        }
        Interlocked.Add(ref _enqueuedTotal, frame.Length);
        (_queue ?? CreateQueue()).Enqueue(frame);
        if (!deferDrain && Interlocked.CompareExchange(ref _busy, 1, 0) == 0)
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        return true;
    }

    /// <summary>
    /// Queues a keep-alive ping carrying <paramref name="payload"/> without making the frame queue: one pending ping at most
    /// (a newer one replaces the payload of one not yet written). Drains when the caller schedules it, as for a deferred
    /// <see cref="Enqueue"/>. On a compressed connection it goes through the queue like any frame.
    /// </summary>
    public bool EnqueuePing(long payload)
    {
        if (_deflater is not null)
        {
            Span<byte> bytes = stackalloc byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(bytes, payload);
            return Enqueue(PooledFrame.Create(Opcode.Ping, bytes), deferDrain: true);
        }
        if (_completeRequested) return false;
        Volatile.Write(ref _pingPayload, payload);
        if (Interlocked.Exchange(ref _pingPending, 1) == 0) Interlocked.Add(ref _enqueuedTotal, PingFrameLength);
        return true;
    }

    /// <summary>
    /// Owes the client a pong for a ping with <paramref name="payload"/>, without making the frame queue; false when the
    /// caller must queue the pong as a frame: the payload is over <see cref="InlinePongPayload"/> bytes, the connection is
    /// compressed, a pong is pending already, or frames are queued. The slot is written before the queue, so with those
    /// rules every ping gets its pong, in order, and a pong still comes before what was queued after it.
    /// </summary>
    public bool TryEnqueuePong(ReadOnlySpan<byte> payload)
    {
        if (_deflater is not null || payload.Length > InlinePongPayload || !QueueIsEmpty) return false;
        if (_completeRequested) return true; // nothing more is sent: dropped, as Enqueue drops a frame
        Span<byte> packed = stackalloc byte[8];
        packed.Clear();
        payload.CopyTo(packed);
        lock (this)
        {
            if (_pongLength >= 0) return false;
            _pongPayload = BitConverter.ToInt64(packed);
            Volatile.Write(ref _pongLength, payload.Length);
            Interlocked.Add(ref _enqueuedTotal, 2 + payload.Length);
        }
        return true;
    }

    /// <summary>Writes the pending pong (caller holds _busy); true when it went to the pipe.</summary>
    private bool WritePendingPong(bool pipeHasUnflushed)
    {
        if (Volatile.Read(ref _pongLength) < 0) return false;
        long payload;
        int length;
        lock (this)
        {
            length = _pongLength;
            if (length < 0) return false;
            payload = _pongPayload;
            _pongLength = -1;
        }
        Span<byte> frame = stackalloc byte[2 + InlinePongPayload];
        frame[0] = 0x80 | (byte)Opcode.Pong;
        frame[1] = (byte)length;
        BitConverter.TryWriteBytes(frame[2..], payload);
        return WriteControl(frame[..(2 + length)], pipeHasUnflushed);
    }

    /// <summary>Writes the pending ping (caller holds _busy); true when it went to the pipe.</summary>
    private bool WritePendingPing(bool pipeHasUnflushed)
    {
        if (Volatile.Read(ref _pingPending) == 0 || Interlocked.Exchange(ref _pingPending, 0) == 0) return false;
        Span<byte> frame = stackalloc byte[PingFrameLength];
        frame[0] = 0x80 | (byte)Opcode.Ping;
        frame[1] = 8;
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(frame[2..], Volatile.Read(ref _pingPayload));
        return WriteControl(frame, pipeHasUnflushed);
    }

    /// <summary>
    /// A keep-alive frame taken from its slot: never after our close (dropped and counted), else straight to the socket
    /// when nothing written before it still waits in the pipe, as the direct drain does; true when it went to the pipe.
    /// </summary>
    private bool WriteControl(ReadOnlySpan<byte> frame, bool pipeHasUnflushed)
    {
        Volatile.Write(ref _drainedTotal, _drainedTotal + frame.Length);
        if (_closeWritten)
        {
            Volatile.Write(ref _discardedTotal, _discardedTotal + frame.Length);
            return false;
        }
        if (!pipeHasUnflushed && _transport is not null && _transport.CanSendDirect) return SendOrSpill(frame);
        _writer.Write(frame);
        return true;
    }

    /// <summary>Whether the frame queue was ever made (tests: a connection only pinged has none).</summary>
    internal bool HasFrameQueue => Volatile.Read(ref _queue) is not null;

    private bool NothingToDrain => QueueIsEmpty && Volatile.Read(ref _pingPending) == 0 && Volatile.Read(ref _pongLength) < 0;

    private ConcurrentQueue<PooledFrame> CreateQueue()
    {
        var created = new ConcurrentQueue<PooledFrame>();
        return Interlocked.CompareExchange(ref _queue, created, null) ?? created;
    }

    private bool QueueIsEmpty => Volatile.Read(ref _queue) is not { } queue || queue.IsEmpty;

    /// <summary>Makes sure a drain runs soon on the thread pool.</summary>
    public void Schedule()
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) == 0)
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>Takes the drain flag for a later <see cref="ScheduleClaimed"/>; false when a drain is running or scheduled already (it will see what is queued).</summary>
    public bool TryClaim() => Interlocked.CompareExchange(ref _busy, 1, 0) == 0;

    /// <summary>Queues the drain that <see cref="TryClaim"/> reserved.</summary>
    public void ScheduleClaimed() => ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);

    void IThreadPoolWorkItem.Execute() => _ = DrainAsync();

    /// <summary>Drains on this thread if nobody else is; the returned task completes when the pipe accepted the batch.</summary>
    public ValueTask FlushAsync()
    {
        if (NothingToDrain && !_completeRequested) return default;
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0) return default;
        return DrainAsync();
    }

    /// <summary>Writes what is queued, then completes the pipe: the transport sends it all and shuts down its side.</summary>
    public Task CompleteAsync()
    {
        var tcs = _completed;
        if (tcs is null)
        {
            Interlocked.CompareExchange(ref _completed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);
            tcs = _completed;
        }
        _completeRequested = true;
        if (Interlocked.CompareExchange(ref _busy, 1, 0) == 0) _ = DrainAsync();
        return tcs!.Task;
    }

    /// <summary>Runs the drain that <see cref="TryClaim"/> reserved, on this thread (a <see cref="DrainBatch"/> chunk).</summary>
    public void RunClaimed() => _ = DrainAsync();

    // Caller holds _busy.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DrainAsync()
    {
        while (true)
        {
            try
            {
                // The keep-alive slots first: a pong waits there only while nothing is queued, so what is queued came
                // after it. Then the queue, straight to the socket while the pipe holds nothing unsent; what the kernel
                // does not take, and every frame after it in this drain, goes through the pipe (and the send loop) in order.
                bool wrote = WritePendingPong(pipeHasUnflushed: false);
                wrote |= WritePendingPing(pipeHasUnflushed: wrote);
                if (!wrote && _transport is not null && !_closeWritten && _transport.CanSendDirect) wrote = DrainDirect();
                var queue = Volatile.Read(ref _queue);
                while (queue is not null && queue.TryDequeue(out var frame)) wrote |= WriteToPipe(frame);
                if (wrote)
                {
                    var result = await _writer.FlushAsync().ConfigureAwait(false);
                    if (result.IsCompleted || result.IsCanceled) _closeWritten = true;
                }
            }
            catch (Exception)
            {
                // Not logged: the pipe only throws here once the transport has completed it (the peer reset, an abort,
                // shutdown), which the connection already logs and counts. Frames still queued are dropped below.
                _closeWritten = true;
            }

            if (_completeRequested && QueueIsEmpty)
            {
                // A ping asked for after this drain's check is dropped with the rest: the connection is ending.
                if (Interlocked.Exchange(ref _pingPending, 0) == 1)
                {
                    Volatile.Write(ref _drainedTotal, _drainedTotal + PingFrameLength);
                    Volatile.Write(ref _discardedTotal, _discardedTotal + PingFrameLength);
                }
                lock (this)
                {
                    if (_pongLength >= 0)
                    {
                        Volatile.Write(ref _drainedTotal, _drainedTotal + 2 + _pongLength);
                        Volatile.Write(ref _discardedTotal, _discardedTotal + 2 + _pongLength);
                        _pongLength = -1;
                    }
                }
                // Keep _busy set for good: the pipe is finished and nobody may write to it again.
                // Completing a pipe the transport already completed may throw; either way nothing more can be sent.
                try { await _writer.CompleteAsync().ConfigureAwait(false); } catch { }
                // Only here is it certain that no drain will compress again.
                _deflater?.Dispose();
                _completed!.TrySetResult();
                return;
            }
            Volatile.Write(ref _busy, 0);
            if ((NothingToDrain && !_completeRequested) || Interlocked.CompareExchange(ref _busy, 1, 0) != 0) return;
        }
    }

    /// <summary>Writes a frame to the pipe, or drops it once the close is written; true when it wrote.</summary>
    private bool WriteToPipe(in PooledFrame frame)
    {
        Volatile.Write(ref _drainedTotal, _drainedTotal + frame.Length);
        bool wrote = !_closeWritten;
        if (wrote)
        {
            if (_deflater is null) _writer.Write(frame.Span);
            else
            {
                int written = _deflater.Write(_writer, frame);
                if (written != frame.Length) Volatile.Write(ref _discardedTotal, _discardedTotal + frame.Length - written);
            }
            if (frame.Opcode == Opcode.Close) _closeWritten = true;
        }
        else
        {
            Volatile.Write(ref _discardedTotal, _discardedTotal + frame.Length);
        }
        frame.Return();
        return wrote;
    }

    // Frames smaller than this are gathered (copied, or compressed) into one buffer and sent together, up to about this
    // much per send(); a larger uncompressed frame is sent from its own buffer.
    private const int DirectChunk = 64 * 1024;

    // One per thread: the gathering is synchronous (no await between filling and sending), so a thread needs only one.
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_gather;

    /// <summary>
    /// The direct drain (caller holds _busy and saw <see cref="SocketConnection.CanSendDirect"/>): the queued frames go
    /// to the kernel in as few send() calls as fit. True when the kernel did not take everything: the rest went to the
    /// pipe, the caller writes the frames still queued after it and flushes.
    /// </summary>
    private bool DrainDirect()
    {
        // Taken off the thread while in use, in case a callback below ever drains another outbox on this thread.
        // Starts small and grows to what bursts need: every thread that ever drains keeps one, and most drains are a
        // few replies or a keep-alive.
        var gather = t_gather ?? new ArrayBufferWriter<byte>(4096);
        t_gather = null;
        try
        {
            var queue = Volatile.Read(ref _queue);
            while (queue is not null && queue.TryDequeue(out var frame))
            {
                if (_closeWritten)
                {
                    WriteToPipe(frame); // dropped and counted: nothing follows our close
                    continue;
                }
                if (frame.Length >= DirectChunk)
                {
                    // What is gathered goes first, then the large frame from its own buffer.
                    if (gather.WrittenCount > 0 && SendOrSpill(gather))
                    {
                        WriteToPipe(frame);
                        return true;
                    }
                    if (_closeWritten || _deflater is not null)
                    {
                        // Broken meanwhile (dropped), or compressed, whose size is unknown until written: the pipe takes it.
                        if (WriteToPipe(frame)) return true;
                        continue;
                    }
                    Volatile.Write(ref _drainedTotal, _drainedTotal + frame.Length);
                    if (frame.Opcode == Opcode.Close) _closeWritten = true;
                    bool spilled = SendOrSpill(frame.Span);
                    frame.Return();
                    if (spilled) return true;
                    continue;
                }
                Volatile.Write(ref _drainedTotal, _drainedTotal + frame.Length);
                if (_deflater is null) gather.Write(frame.Span);
                else
                {
                    int written = _deflater.Write(gather, frame);
                    if (written != frame.Length) Volatile.Write(ref _discardedTotal, _discardedTotal + frame.Length - written);
                }
                if (frame.Opcode == Opcode.Close) _closeWritten = true;
                frame.Return();
                if (gather.WrittenCount >= DirectChunk && SendOrSpill(gather)) return true;
            }
            return gather.WrittenCount > 0 && SendOrSpill(gather);
        }
        finally
        {
            gather.ResetWrittenCount();
            t_gather = gather;
        }
    }

    private bool SendOrSpill(ArrayBufferWriter<byte> gather)
    {
        bool spilled = SendOrSpill(gather.WrittenSpan);
        gather.ResetWrittenCount();
        return spilled;
    }

    /// <summary>One non-blocking send; true when the kernel took only part and the rest went into the pipe.</summary>
    private bool SendOrSpill(ReadOnlySpan<byte> data)
    {
        int sent = _transport!.TrySendDirect(data);
        if (sent == data.Length) return false;
        if (sent < 0)
        {
            // The connection is broken: as when the pipe reports it, nothing more is written.
            _closeWritten = true;
            return false;
        }
        _writer.Write(data[sent..]);
        return true;
    }
}
