using System.Buffers;

namespace Gateway.Protocol.Compression;

/// <summary>
/// One native raw-deflate stream. Not thread-safe: one message at a time (a pool hands it to one drain at a time;
/// a connection with server context takeover owns one and compresses only from its outbox's single drain).
/// </summary>
internal sealed unsafe class ZLibDeflater : IDisposable
{
    // The four bytes every sync or full flush ends with; RFC 7692 §7.2.1 drops them from the wire.
    internal static ReadOnlySpan<byte> FlushTrailer => [0x00, 0x00, 0xFF, 0xFF];

    private ZLibNative.ZStream _stream;
    private bool _open;

    public ZLibDeflater(int level, int windowBits)
    {
        Level = level;
        WindowBits = windowBits;
        fixed (ZLibNative.ZStream* s = &_stream)
        {
            int rc = ZLibNative.DeflateInitRaw(s, level, windowBits);
            if (rc != ZLibNative.Ok) throw new InvalidOperationException($"zlib deflateInit2(level {level}, window bits {windowBits}) failed with {rc}");
        }
        _open = true;
    }

    public int Level { get; }
    public int WindowBits { get; }

    /// <summary>
    /// Compresses <paramref name="input"/> as one RFC 7692 message into <paramref name="buffer"/> (pooled, replaced by a
    /// larger one when it fills) from <paramref name="offset"/>, trailer removed; returns the compressed length.
    /// <paramref name="independent"/>: end with a full flush, so the next message shares no history with this one
    /// (no context takeover: the stream can go back to a pool and serve another connection).
    /// </summary>
    public int Compress(ReadOnlySpan<byte> input, ref byte[] buffer, int offset, bool independent)
    {
        ObjectDisposedException.ThrowIf(!_open, this);
        int flush = independent ? ZLibNative.FullFlush : ZLibNative.SyncFlush;
        int position = offset;
        fixed (byte* inputPtr = input)
        fixed (ZLibNative.ZStream* s = &_stream)
        {
            s->NextIn = inputPtr;
            s->AvailIn = (uint)input.Length;
            while (true)
            {
                // A flush needs room for its empty stored block: never call with less than a few bytes free.
                if (buffer.Length - position < 16) Grow(ref buffer, position);
                int rc;
                fixed (byte* output = &buffer[position])
                {
                    uint room = (uint)(buffer.Length - position);
                    s->NextOut = output;
                    s->AvailOut = room;
                    rc = ZLibNative.Deflate(s, flush);
                    position += (int)(room - s->AvailOut);
                }
                if (rc != ZLibNative.Ok && rc != ZLibNative.BufError)
                    throw new InvalidOperationException($"zlib deflate failed with {rc}");
                // Returning with output space left means zlib has written everything, flush included.
                if (s->AvailIn == 0 && s->AvailOut != 0) break;
                Grow(ref buffer, position);
            }
            s->NextIn = null;
            s->NextOut = null;
        }
        int length = position - offset;
        if (length < 4 || !buffer.AsSpan(position - 4, 4).SequenceEqual(FlushTrailer))
            throw new InvalidOperationException("zlib flush did not end with 00 00 FF FF");
        return length - 4;
    }

    private static void Grow(ref byte[] buffer, int used)
    {
        var next = ArrayPool<byte>.Shared.Rent(Math.Max(buffer.Length * 2, 256));
        buffer.AsSpan(0, used).CopyTo(next);
        ArrayPool<byte>.Shared.Return(buffer);
        buffer = next;
    }

    public void Dispose()
    {
        if (!_open) return;
        _open = false;
        fixed (ZLibNative.ZStream* s = &_stream) ZLibNative.DeflateEnd(s);
        GC.SuppressFinalize(this);
    }

    // A pooled or per-connection stream lost without Dispose (a bug) still gives its native memory back.
    ~ZLibDeflater()
    {
        if (!_open) return;
        _open = false;
        fixed (ZLibNative.ZStream* s = &_stream) ZLibNative.DeflateEnd(s);
    }
}
