using System.Buffers;
using Gateway.Protocol.WebSockets;

namespace Gateway.Protocol.Compression;

/// <summary>
/// A connection's outbound permessage-deflate state, used by its single writer (the outbox drain), so frames are
/// compressed in exactly the order they reach the wire. Without server context takeover (the default) a message is
/// compressed by a deflater borrowed from a pool for that message only, and a frame shared by a fan-out is compressed
/// once for every subscriber (<see cref="SharedFrame"/>); with context takeover the connection owns a deflater from
/// its first compressed message on. Without context takeover it holds nothing of any one connection, so
/// <see cref="PerMessageDeflate.CreateDeflater"/> gives every such connection of a window size the same instance. Frames under Settings.MinMessageBytes, control frames and frames already
/// compressed are written as they are.
/// </summary>
public sealed class MessageDeflater : IDisposable
{
    // Room in front of the compressed payload for the largest server frame header.
    internal const int HeaderRoom = 10;
    private readonly PerMessageDeflate _owner;
    private readonly bool _independent;
    private readonly int _windowBits;
    private readonly int _minBytes;
    private ZLibDeflater? _own;

    internal MessageDeflater(PerMessageDeflate owner, PerMessageDeflateParameters parameters)
    {
        _owner = owner;
        _independent = parameters.ServerNoContextTakeover;
        _windowBits = parameters.ServerMaxWindowBits;
        _minBytes = owner.Settings.MinMessageBytes;
    }

    /// <summary>True while this connection owns a deflater (server context takeover, after its first compressed message).</summary>
    public bool HoldsState => _own is not null;

    /// <summary>Writes <paramref name="frame"/> to <paramref name="output"/>, compressed when that is worth it; returns the bytes written.</summary>
    public int Write(IBufferWriter<byte> output, in PooledFrame frame)
    {
        var span = frame.Span;
        byte b0 = span[0];
        // Only whole, not yet compressed data messages: control frames must never be compressed (RFC 7692 §6.1).
        if ((frame.Opcode != Opcode.Text && frame.Opcode != Opcode.Binary) || (b0 & 0xC0) != 0x80)
            return WriteRaw(output, span);
        int code = span[1] & 0x7F;
        int header = code < 126 ? 2 : code == 126 ? 4 : 10;
        var payload = span.Slice(header);
        if (payload.Length < _minBytes) return WriteRaw(output, span);

        if (_independent && frame.Owner is { } shared
            && shared.TryGetCompressed(_owner.Deflaters(_windowBits), out var compressed, out bool compressedNow))
        {
            if (compressedNow) _owner.CountSharedCompressed();
            if (compressed.IsEmpty) return WriteRaw(output, span);
            Count(span.Length, compressed.Length);
            return WriteRaw(output, compressed);
        }

        if (_independent)
        {
            var pool = _owner.Deflaters(_windowBits);
            var deflater = pool.Rent();
            byte[] buffer;
            int offset, length;
            try { buffer = CompressFrame(deflater, frame.Opcode, payload, independent: true, out offset, out length); }
            finally { pool.Return(deflater); }
            try
            {
                // Bigger than the original (already compressed data): send it plain; the client's state does not care.
                if (length >= span.Length) return WriteRaw(output, span);
                Count(span.Length, length);
                return WriteRaw(output, buffer.AsSpan(offset, length));
            }
            finally { ArrayPool<byte>.Shared.Return(buffer); }
        }

        // Context takeover: every message of the connection goes through its own deflater, or the client's window
        // and ours would no longer hold the same history.
        _own ??= _owner.NewOwnDeflater(_windowBits);
        var own = CompressFrame(_own, frame.Opcode, payload, independent: false, out int ownOffset, out int ownLength);
        try
        {
            Count(span.Length, ownLength);
            return WriteRaw(output, own.AsSpan(ownOffset, ownLength));
        }
        finally { ArrayPool<byte>.Shared.Return(own); }
    }

    /// <summary>
    /// A complete server frame (FIN, RSV1, <paramref name="opcode"/>) holding <paramref name="payload"/> compressed, in a
    /// buffer rented from ArrayPool.Shared that the caller returns.
    /// </summary>
    internal static byte[] CompressFrame(ZLibDeflater deflater, Opcode opcode, ReadOnlySpan<byte> payload, bool independent, out int offset, out int length)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(HeaderRoom + payload.Length / 2 + 64);
        int compressed = deflater.Compress(payload, ref buffer, HeaderRoom, independent);
        int h = FrameWriter.HeaderSize(compressed);
        offset = HeaderRoom - h;
        FrameWriter.WriteHeader(buffer.AsSpan(offset), opcode, compressed);
        buffer[offset] |= 0x40;
        length = h + compressed;
        return buffer;
    }

    // Server-wide only: without context takeover one instance serves many connections' drains at once.
    private void Count(int before, int after) => _owner.CountCompressed(before, after);

    private static int WriteRaw(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        output.Write(bytes);
        return bytes.Length;
    }

    public void Dispose()
    {
        _own?.Dispose();
        _own = null;
    }
}
