using System.Buffers;

namespace Gateway.Baseline.KestrelTuned;

/// <summary>
/// Sits between ManagedWebSocket (<see cref="System.Net.WebSockets.WebSocket.CreateFromStream(Stream, System.Net.WebSockets.WebSocketCreationOptions)"/>)
/// and Kestrel's upgraded duplex stream, buffering both ways, as <see cref="BufferedStream"/> would if it could be
/// told when a batch ends and did not hold its buffers while idle.
/// <para>
/// Writes: a batch of frames becomes ONE write to Kestrel (one pipe flush, one send() in the common case).
/// ManagedWebSocket writes each frame with one <c>WriteAsync</c> and never flushes, and Kestrel's upgraded stream
/// flushes on every write, so without this each message is its own flush and syscall. While <see cref="Deferring"/>
/// is set (by the connection's single writer, which sets it only when it already holds the next message), frames
/// are copied into a pooled buffer; the first write with <see cref="Deferring"/> clear sends the buffer and that
/// frame in one write. Every write here happens under ManagedWebSocket's own send lock, so the frames it sends by
/// itself (keep-alive pings, pongs, the close frame) are ordered with ours: one that arrives mid-batch rides along
/// with the batch, which ends promptly because the writer knows a next message exists.
/// </para>
/// <para>
/// Reads: ManagedWebSocket reads frame headers into a receive buffer of its own of 125 bytes (the largest control
/// frame) and asks the stream for exactly the rest of a payload, so a client's burst of small messages costs about
/// one Kestrel read (a PipeReader read, copy and advance) per message. A small read here fills a pooled
/// <see cref="ReadAheadSize"/> buffer instead, and the following reads are served from it until it is drained.
/// Zero-byte reads (ManagedWebSocket's wait in a zero-byte <c>ReceiveAsync</c>) and reads at least as large as the
/// buffer go straight to Kestrel.
/// </para>
/// Both buffers are rented when needed and returned when drained, so an idle connection holds none.
/// </summary>
public sealed class BatchingStream(Stream inner) : Stream
{
    /// <summary>The most a batch holds before it goes out anyway (several frames still share one write).</summary>
    public const int Capacity = 64 * 1024;

    private byte[]? _buffer;
    private int _count;

    /// <summary>What one Kestrel read asks for when ManagedWebSocket asks for less: a burst of small messages.</summary>
    public const int ReadAheadSize = 4096;

    private byte[]? _readBuffer;
    private int _readStart, _readEnd;

    /// <summary>Set by the single writer while it has more messages in hand: frames are held back until it clears it.</summary>
    public volatile bool Deferring;

    /// <summary>
    /// Bytes read from Kestrel that ManagedWebSocket has not asked for yet: the next message is (at least partly)
    /// here, so the receive loop need not wait for it with a zero-byte receive.
    /// </summary>
    public bool HasBufferedData => _readEnd > _readStart;

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        if (_count + data.Length <= Capacity)
        {
            if (Deferring || _count > 0)
            {
                _buffer ??= ArrayPool<byte>.Shared.Rent(Capacity);
                data.Span.CopyTo(_buffer.AsSpan(_count));
                _count += data.Length;
                return Deferring ? default : SendBufferAsync(cancellationToken);
            }
            return inner.WriteAsync(data, cancellationToken);
        }
        // Larger than what is left of a batch (a 1 MiB echo): what is buffered first, then the frame straight from
        // ManagedWebSocket's buffer rather than copying it again.
        return _count == 0 ? inner.WriteAsync(data, cancellationToken) : SendBufferThenAsync(data, cancellationToken);
    }

    private async ValueTask SendBufferAsync(CancellationToken cancellationToken)
    {
        var buffer = _buffer!;
        int count = _count;
        _buffer = null;
        _count = 0;
        try { await inner.WriteAsync(buffer.AsMemory(0, count), cancellationToken).ConfigureAwait(false); }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    private async ValueTask SendBufferThenAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await SendBufferAsync(cancellationToken).ConfigureAwait(false);
        await inner.WriteAsync(data, cancellationToken).ConfigureAwait(false);
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_count > 0) await SendBufferAsync(cancellationToken).ConfigureAwait(false);
        await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_readEnd > _readStart) return new ValueTask<int>(ReadBuffered(buffer.Span));
        if (buffer.Length == 0 || buffer.Length >= ReadAheadSize) return inner.ReadAsync(buffer, cancellationToken);
        return FillAndReadAsync(buffer, cancellationToken);
    }

    private async ValueTask<int> FillAndReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        _readBuffer ??= ArrayPool<byte>.Shared.Rent(ReadAheadSize);
        int read;
        try { read = await inner.ReadAsync(_readBuffer.AsMemory(0, ReadAheadSize), cancellationToken).ConfigureAwait(false); }
        catch
        {
            ReturnReadBuffer();
            throw;
        }
        _readStart = 0;
        _readEnd = read;
        return read == 0 ? ReadBuffered(default) : ReadBuffered(destination.Span);
    }

    private int ReadBuffered(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, _readEnd - _readStart);
        if (n > 0) _readBuffer.AsSpan(_readStart, n).CopyTo(destination);
        _readStart += n;
        if (_readStart == _readEnd) ReturnReadBuffer();
        return n;
    }

    private void ReturnReadBuffer()
    {
        _readStart = _readEnd = 0;
        if (_readBuffer is { } b)
        {
            _readBuffer = null;
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (_buffer is { } b) { _buffer = null; _count = 0; ArrayPool<byte>.Shared.Return(b); }
            ReturnReadBuffer();
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        if (_buffer is { } b) { _buffer = null; _count = 0; ArrayPool<byte>.Shared.Return(b); }
        ReturnReadBuffer();
        return inner.DisposeAsync();
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();
    public override int Read(byte[] buffer, int offset, int count) =>
        _readEnd > _readStart ? ReadBuffered(buffer.AsSpan(offset, count)) : inner.Read(buffer, offset, count);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
}
