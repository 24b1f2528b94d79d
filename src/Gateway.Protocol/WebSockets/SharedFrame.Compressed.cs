using System.Buffers;
using Gateway.Protocol.Compression;

namespace Gateway.Protocol.WebSockets;

// Compress-once for fan-out: the first subscriber's outbox that wants this frame compressed (permessage-deflate
// without server context takeover) compresses it, and every other subscriber with the same window size writes the
// same bytes. Kept until the last reference to the frame is released.
public sealed partial class SharedFrame
{
    private object? _compressedKey;
    private byte[]? _compressed;
    private int _compressedOffset;
    // -1: compressing it did not make it smaller (subscribers write the original).
    private int _compressedLength;

    /// <summary>
    /// This frame compressed by a deflater of <paramref name="pool"/> (the whole frame, header with RSV1 included), or
    /// empty when compression does not make it smaller. False when the cached copy was made for another window size
    /// (a client that asked for a smaller window): the caller compresses for itself. <paramref name="compressedNow"/>:
    /// this call did the compressing. Valid while the caller holds a reference to the frame.
    /// </summary>
    internal bool TryGetCompressed(ZLibStreamPool<ZLibDeflater> pool, out ReadOnlySpan<byte> frame, out bool compressedNow)
    {
        compressedNow = false;
        if (Volatile.Read(ref _compressedKey) is null)
        {
            // One compression for all: the others wait the few microseconds it takes rather than repeat it.
            lock (this)
            {
                if (_compressedKey is null)
                {
                    Compress(pool);
                    compressedNow = true;
                }
            }
        }
        frame = default;
        if (!ReferenceEquals(_compressedKey, pool)) return false;
        if (_compressedLength > 0) frame = _compressed.AsSpan(_compressedOffset, _compressedLength);
        return true;
    }

    private void Compress(ZLibStreamPool<ZLibDeflater> pool)
    {
        var payload = Payload.Span;
        var deflater = pool.Rent();
        byte[] buffer;
        int offset, length;
        try { buffer = MessageDeflater.CompressFrame(deflater, _opcode, payload, independent: true, out offset, out length); }
        finally { pool.Return(deflater); }
        _compressed = buffer;
        _compressedOffset = offset;
        _compressedLength = length >= _length ? -1 : length;
        Volatile.Write(ref _compressedKey, pool);
    }

    private void ReleaseCompressed()
    {
        if (_compressed is { } buffer)
        {
            _compressed = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
        _compressedKey = null;
    }
}
