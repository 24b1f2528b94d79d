namespace Gateway.Protocol.Compression;

/// <summary>One native raw-inflate stream; one message at a time.</summary>
internal sealed unsafe class ZLibInflater : IDisposable
{
    private ZLibNative.ZStream _stream;
    private bool _open;

    public ZLibInflater(int windowBits)
    {
        WindowBits = windowBits;
        fixed (ZLibNative.ZStream* s = &_stream)
        {
            int rc = ZLibNative.InflateInitRaw(s, windowBits);
            if (rc != ZLibNative.Ok) throw new InvalidOperationException($"zlib inflateInit2(window bits {windowBits}) failed with {rc}");
        }
        _open = true;
    }

    public int WindowBits { get; }

    /// <summary>What one <see cref="Inflate"/> call did.</summary>
    public enum Status { Ok, StreamEnd, DataError }

    /// <summary>
    /// Inflates from <paramref name="input"/> into <paramref name="output"/> as far as either allows. Invalid deflate
    /// data is reported, not thrown: it is the peer's fault and becomes a close code.
    /// </summary>
    public Status Inflate(ReadOnlySpan<byte> input, Span<byte> output, out int consumed, out int written)
    {
        ObjectDisposedException.ThrowIf(!_open, this);
        int rc;
        fixed (byte* inputPtr = input)
        fixed (byte* outputPtr = output)
        fixed (ZLibNative.ZStream* s = &_stream)
        {
            s->NextIn = inputPtr;
            s->AvailIn = (uint)input.Length;
            s->NextOut = outputPtr;
            s->AvailOut = (uint)output.Length;
            rc = ZLibNative.Inflate(s, ZLibNative.SyncFlush);
            consumed = input.Length - (int)s->AvailIn;
            written = output.Length - (int)s->AvailOut;
            s->NextIn = null;
            s->NextOut = null;
        }
        return rc switch
        {
            ZLibNative.Ok or ZLibNative.BufError => Status.Ok,
            ZLibNative.StreamEnd => Status.StreamEnd,
            ZLibNative.DataError => Status.DataError,
            _ => throw new InvalidOperationException($"zlib inflate failed with {rc}"),
        };
    }

    /// <summary>Forgets the window and any half-read block, as a fresh stream (keeps its allocations).</summary>
    public bool Reset()
    {
        if (!_open) return false;
        fixed (ZLibNative.ZStream* s = &_stream) return ZLibNative.InflateReset2(s, -WindowBits) == ZLibNative.Ok;
    }

    public void Dispose()
    {
        if (!_open) return;
        _open = false;
        fixed (ZLibNative.ZStream* s = &_stream) ZLibNative.InflateEnd(s);
        GC.SuppressFinalize(this);
    }

    ~ZLibInflater()
    {
        if (!_open) return;
        _open = false;
        fixed (ZLibNative.ZStream* s = &_stream) ZLibNative.InflateEnd(s);
    }
}
