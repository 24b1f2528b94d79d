using System.Buffers;
using System.Runtime.InteropServices;
using Gateway.Protocol.Compression;

namespace Gateway.Protocol.WebSockets;

// permessage-deflate on the receive side (RFC 7692 §6.2). A compressed message always takes the streaming path: its
// frames' bytes are unmasked where they lie in the pipe's buffer and fed straight to the inflater, which writes into
// the reassembly buffer. That buffer grows with the inflated bytes and never past Limits:MaxMessageBytes: once it is
// full, one more byte of output fails the message with 1009, so a small compressed bomb costs at most the limit,
// never what it would inflate to.
public sealed partial class MessageReader
{
    private const byte RsvCompressed = 4;
    private static ReadOnlySpan<byte> Trailer => [0x00, 0x00, 0xFF, 0xFF];

    private readonly MessageInflater? _inflater;
    // The inflater of the compressed message being read: borrowed from the pool (or the connection's own) at its
    // first frame, given back at its end, so between messages the connection holds no native state.
    private ZLibInflater? _inflateStream;

    /// <summary>True while a compressed message is being inflated (native inflate state held for it).</summary>
    public bool HoldsInflateState => _inflateStream is not null;
    // The message being assembled is compressed (RSV1 on its first frame).
    private bool _compressed;
    // The deflate stream hit a final block: nothing but our own trailer may follow in this message.
    private bool _streamEnded;
    private long _compressedBytes;

    private void BeginInflate()
    {
        _compressed = true;
        _streamEnded = false;
        _compressedBytes = 0;
        _inflateStream = _inflater!.BeginMessage();
        Account(_buffer?.Length ?? 0);
    }

    private void EndInflate()
    {
        _compressed = false;
        var stream = _inflateStream;
        _inflateStream = null;
        if (stream is not null) _inflater!.EndMessage(stream, _streamEnded);
        Account(_buffer?.Length ?? 0);
    }

    private bool InflateChunk(in ReadOnlySequence<byte> chunk)
    {
        foreach (var segment in chunk)
        {
            if (segment.IsEmpty) continue;
            // The pipe's memory is ours and writable; unmasking in place saves a copy of the compressed bytes.
            var span = MemoryMarshal.AsMemory(segment).Span;
            Masking.Apply(span, _frameMask, _frameOffset);
            _frameOffset += span.Length;
            _compressedBytes += span.Length;
            if (!Inflate(span)) return false;
        }
        return true;
    }

    private bool FinishInflate()
    {
        // RFC 7692 §7.2.2: the sender removed the sync flush's 00 00 FF FF; put it back so the inflater flushes.
        if (!_streamEnded && !Inflate(Trailer)) return false;
        _inflater!.Owner.CountInflated(_compressedBytes, _bufferLength);
        return true;
    }

    private bool Inflate(ReadOnlySpan<byte> input)
    {
        if (_streamEnded)
        {
            Fail(CloseCodes.InvalidPayload, "data after the final deflate block of a compressed message");
            return false;
        }
        Span<byte> probe = stackalloc byte[1];
        while (true)
        {
            int capacity = (int)Math.Min(_buffer?.Length ?? 0, _maxMessageBytes);
            bool atLimit = _bufferLength >= _maxMessageBytes;
            if (_bufferLength == capacity && !atLimit)
            {
                GrowInflated(_bufferLength + 1);
                capacity = (int)Math.Min(_buffer!.Length, _maxMessageBytes);
            }
            // At the limit, inflate into a single spare byte: output there means the message is too big.
            var output = atLimit ? probe : _buffer.AsSpan(_bufferLength, capacity - _bufferLength);
            var status = _inflateStream!.Inflate(input, output, out int consumed, out int written);
            if (status == ZLibInflater.Status.DataError)
            {
                Fail(CloseCodes.InvalidPayload, "compressed message is not valid deflate data");
                return false;
            }
            if (atLimit && written > 0)
            {
                Fail(CloseCodes.MessageTooBig, "message exceeds the size limit once decompressed");
                return false;
            }
            if (!atLimit)
            {
                if (_messageOpcode == Opcode.Text && !_utf8.Append(output.Slice(0, written)))
                {
                    Fail(CloseCodes.InvalidPayload, "invalid UTF-8 in text message");
                    return false;
                }
                _bufferLength += written;
            }
            input = input.Slice(consumed);
            if (status == ZLibInflater.Status.StreamEnd)
            {
                _streamEnded = true;
                if (!input.IsEmpty)
                {
                    Fail(CloseCodes.InvalidPayload, "data after the final deflate block of a compressed message");
                    return false;
                }
                return true;
            }
            bool outputFull = written == output.Length;
            // Everything read and room left over: the inflater holds nothing more for now.
            if (input.IsEmpty && !outputFull) return true;
            if (consumed == 0 && written == 0 && !outputFull)
            {
                Fail(CloseCodes.InvalidPayload, "compressed message is not valid deflate data");
                return false;
            }
        }
    }

    // Like Grow, but bounded by the message limit instead of a declared length (the inflated size is unknown).
    private void GrowInflated(int needed)
    {
        int current = _buffer?.Length ?? 0;
        ReplaceBuffer(Math.Max(needed, Math.Min(Math.Max(2L * current, 1024), _maxMessageBytes)));
    }
}
