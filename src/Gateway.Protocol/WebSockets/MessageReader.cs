using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Gateway.Protocol.WebSockets;

/// <summary>What <see cref="MessageReader.Read"/> found.</summary>
public enum FrameEvent
{
    /// <summary>Everything available was consumed; read more bytes from the socket.</summary>
    NeedMoreData,
    /// <summary>A complete data message: <see cref="MessageReader.MessageOpcode"/>, <see cref="MessageReader.Payload"/>.</summary>
    Message,
    Ping,
    Pong,
    /// <summary>A valid close frame: <see cref="MessageReader.CloseCode"/> (0 when it carried none) and reason.</summary>
    Close,
    /// <summary>The peer broke the protocol: fail the connection with <see cref="MessageReader.ErrorCloseCode"/>.</summary>
    Error,
}

/// <summary>
/// Per-connection RFC 6455 frame parser and message assembler. It consumes bytes from the front of a
/// <see cref="ReadOnlySequence{T}"/> (the pipe's buffer) and enforces every receive-side rule.
/// An unfragmented frame that is already whole in the buffer is unmasked in place and handed out as a
/// slice of that buffer, with no copy. Anything else (fragments, a frame that has not fully arrived) is
/// streamed into one pooled reassembly buffer as it arrives, so memory per connection is bounded by the
/// message limit, the input pipe never has to hold a whole large frame, and invalid UTF-8 is rejected as
/// soon as its first bad byte is seen. The reassembly buffer grows with the bytes that have arrived, never
/// with the length a header declares: a peer that declares 1 MiB and sends 15 bytes holds a few hundred bytes,
/// so memory held is paid for by bytes sent (at most twice them, plus a small floor). Growth doubles, so a
/// large legitimate message costs O(n) copying in all.
/// A <see cref="FrameEvent.Message"/>'s payload is valid until the caller consumes the buffer it was read
/// from and calls <see cref="ReleaseMessage"/>.
/// </summary>
public sealed partial class MessageReader : IDisposable
{
    private readonly long _maxMessageBytes;
    private readonly bool _requireMask;
    private readonly ArrayPool<byte> _pool;
    private readonly ReassemblyBudget? _budget;
    private readonly byte[] _control = new byte[125];

    // The data frame whose payload is being streamed.
    private bool _inFrame;
    private bool _frameFin;
    private uint _frameMask;
    private long _frameOffset;
    private long _frameRemaining;

    // The data message being assembled.
    private bool _inMessage;
    private Opcode _messageOpcode;
    private long _messageLength;
    private byte[]? _buffer;
    private int _bufferLength;
    private Utf8Validator _utf8;

    /// <param name="maxMessageBytes">Largest message, all fragments together.</param>
    /// <param name="requireMask">True on a server: client frames must be masked.</param>
    /// <param name="pool">Where reassembly buffers come from (ArrayPool.Shared by default).</param>
    /// <param name="budget">Shared account of reassembly bytes held by every reader (optional).</param>
    /// <param name="inflater">The connection's permessage-deflate state when the extension was negotiated (RSV1 allowed).</param>
    public MessageReader(long maxMessageBytes, bool requireMask = true, ArrayPool<byte>? pool = null, ReassemblyBudget? budget = null,
        Compression.MessageInflater? inflater = null)
    {
        _inflater = inflater;
        if (maxMessageBytes <= 0 || maxMessageBytes > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(maxMessageBytes));
        _maxMessageBytes = maxMessageBytes;
        _requireMask = requireMask;
        _pool = pool ?? ArrayPool<byte>.Shared;
        _budget = budget;
    }

    /// <summary>Bytes of reassembly buffer this reader holds now (0 between messages and on the zero-copy path).</summary>
    public long HeldBytes => Volatile.Read(ref _heldBytes);
    private long _heldBytes;

    /// <summary>Text or Binary, for the last <see cref="FrameEvent.Message"/>.</summary>
    public Opcode MessageOpcode { get; private set; }
    /// <summary>The last message's payload (unmasked, UTF-8 checked for text).</summary>
    public ReadOnlySequence<byte> Payload { get; private set; }
    /// <summary>The last ping/pong payload, or the last close frame's reason bytes.</summary>
    public ReadOnlySpan<byte> ControlPayload => _control.AsSpan(0, _controlLength);
    private int _controlLength;
    public ushort CloseCode { get; private set; }
    public ReadOnlySpan<byte> CloseReason => CloseCode == 0 ? default : _control.AsSpan(2, _controlLength - 2);
    public ushort ErrorCloseCode { get; private set; }
    public string? ErrorReason { get; private set; }
    /// <summary>True while a fragmented message or a partly received frame is pending.</summary>
    public bool HasPartialMessage => _inMessage || _inFrame;

    /// <summary>Parses from the front of <paramref name="buffer"/>, slicing off what it consumed.</summary>
    public FrameEvent Read(ref ReadOnlySequence<byte> buffer)
    {
        while (true)
        {
            if (_inFrame)
            {
                long n = Math.Min(_frameRemaining, buffer.Length);
                if (n > 0 && _compressed)
                {
                    var chunk = buffer.Slice(0, n);
                    buffer = buffer.Slice(n);
                    _frameRemaining -= n;
                    if (!InflateChunk(chunk)) return FrameEvent.Error;
                }
                else if (n > 0)
                {
                    Grow(_bufferLength + (int)n);
                    var dest = _buffer.AsSpan(_bufferLength, (int)n);
                    buffer.Slice(0, n).CopyTo(dest);
                    Masking.Apply(dest, _frameMask, _frameOffset);
                    if (_messageOpcode == Opcode.Text && !_utf8.Append(dest))
                        return Fail(CloseCodes.InvalidPayload, "invalid UTF-8 in text message");
                    _frameOffset += n;
                    _frameRemaining -= n;
                    _bufferLength += (int)n;
                    buffer = buffer.Slice(n);
                }
                if (_frameRemaining > 0) return FrameEvent.NeedMoreData;
                _inFrame = false;
                if (!_frameFin) continue;
                if (_compressed && !FinishInflate()) return FrameEvent.Error;
                if (_messageOpcode == Opcode.Text && !_utf8.IsAtBoundary)
                    return Fail(CloseCodes.InvalidPayload, "text message ends inside a UTF-8 sequence");
                _inMessage = false;
                MessageOpcode = _messageOpcode;
                Payload = new ReadOnlySequence<byte>(_buffer ?? [], 0, _bufferLength);
                return FrameEvent.Message;
            }

            if (!FrameHeader.TryRead(buffer, out var header)) return FrameEvent.NeedMoreData;
            var problem = header.Validate(_requireMask, _inflater is null ? (byte)0 : RsvCompressed);
            if (problem is not null) return Fail(CloseCodes.ProtocolError, problem);
            bool compressed = (header.Rsv & RsvCompressed) != 0;
            if (compressed && header.IsControl) return Fail(CloseCodes.ProtocolError, "compressed control frame (RSV1 set on a control frame)");
            if (compressed && header.Opcode == Opcode.Continuation) return Fail(CloseCodes.ProtocolError, "RSV1 set on a continuation frame");

            if (header.IsControl)
            {
                long frameLength = header.HeaderLength + header.PayloadLength;
                if (buffer.Length < frameLength) return FrameEvent.NeedMoreData;
                int len = (int)header.PayloadLength;
                buffer.Slice(header.HeaderLength, len).CopyTo(_control);
                Masking.Apply(_control.AsSpan(0, len), header.MaskKey, 0);
                _controlLength = len;
                buffer = buffer.Slice(frameLength);
                switch (header.Opcode)
                {
                    case Opcode.Ping: return FrameEvent.Ping;
                    case Opcode.Pong: return FrameEvent.Pong;
                    default: return ReadClose(len);
                }
            }

            if (header.Opcode == Opcode.Continuation && !_inMessage)
                return Fail(CloseCodes.ProtocolError, "continuation frame outside a fragmented message");
            if (header.Opcode != Opcode.Continuation && _inMessage)
                return Fail(CloseCodes.ProtocolError, "new data frame inside a fragmented message");

            long soFar = _inMessage ? _messageLength : 0;
            // Compare without adding: a continuation may declare up to 2^63-1 bytes and the sum would wrap.
            if (header.PayloadLength > _maxMessageBytes - soFar)
                return Fail(CloseCodes.MessageTooBig, "message exceeds the size limit");
            long total = soFar + header.PayloadLength;

            if (!_inMessage && header.Fin && !compressed && buffer.Length >= header.HeaderLength + header.PayloadLength)
            {
                var payload = buffer.Slice(header.HeaderLength, header.PayloadLength);
                UnmaskInPlace(payload, header.MaskKey);
                if (header.Opcode == Opcode.Text)
                {
                    var check = new Utf8Validator();
                    if (!check.Append(payload) || !check.IsAtBoundary)
                        return Fail(CloseCodes.InvalidPayload, "invalid UTF-8 in text message");
                }
                buffer = buffer.Slice(payload.End);
                MessageOpcode = header.Opcode;
                Payload = payload;
                return FrameEvent.Message;
            }

            if (header.Opcode != Opcode.Continuation)
            {
                _inMessage = true;
                _messageOpcode = header.Opcode;
                _utf8.Reset();
                if (compressed) BeginInflate();
            }
            _messageLength = total;
            _inFrame = true;
            _frameFin = header.Fin;
            _frameMask = header.MaskKey;
            _frameOffset = 0;
            _frameRemaining = header.PayloadLength;
            buffer = buffer.Slice(header.HeaderLength);
        }
    }

    /// <summary>Gives back the reassembly buffer once the last message has been handled.</summary>
    public void ReleaseMessage()
    {
        Payload = default;
        if (_inMessage) return;
        _messageLength = 0;
        _bufferLength = 0;
        if (_compressed) EndInflate();
        if (_buffer is not null)
        {
            _pool.Return(_buffer);
            _buffer = null;
            Account(0);
        }
    }

    public void Dispose()
    {
        _inMessage = false;
        _inFrame = false;
        ReleaseMessage();
        _inflater?.Dispose();
    }

    private FrameEvent ReadClose(int len)
    {
        if (len == 0)
        {
            CloseCode = 0;
            return FrameEvent.Close;
        }
        if (len == 1) return Fail(CloseCodes.ProtocolError, "close frame with a 1-byte payload");
        ushort code = BinaryPrimitives.ReadUInt16BigEndian(_control);
        if (!CloseCodes.IsValidOnWire(code)) return Fail(CloseCodes.ProtocolError, "invalid close code");
        if (!Utf8Validator.IsValid(_control.AsSpan(2, len - 2))) return Fail(CloseCodes.InvalidPayload, "close reason is not valid UTF-8");
        CloseCode = code;
        return FrameEvent.Close;
    }

    private FrameEvent Fail(ushort code, string reason)
    {
        ErrorCloseCode = code;
        ErrorReason = reason;
        return FrameEvent.Error;
    }

    // Called with the bytes that have actually arrived. Doubling keeps the copying linear for a large message;
    // capping at the declared total never rents past what the message can need.
    private void Grow(int needed)
    {
        int current = _buffer?.Length ?? 0;
        if (current >= needed) return;
        ReplaceBuffer(Math.Max(needed, Math.Min(Math.Max(2L * current, 256), _messageLength)));
    }

    // Moves what was reassembled so far into a bigger pooled buffer and charges the growth to the partial-message budget.
    private void ReplaceBuffer(long size)
    {
        var next = _pool.Rent((int)size);
        if (_buffer is not null)
        {
            _buffer.AsSpan(0, _bufferLength).CopyTo(next);
            _pool.Return(_buffer);
        }
        _buffer = next;
        Account(next.Length);
    }

    private void Account(long held)
    {
        if (_compressed) held += _inflater!.StateBytes;
        long delta = held - _heldBytes;
        Volatile.Write(ref _heldBytes, held);
        _budget?.Add(delta);
    }

    private static void UnmaskInPlace(ReadOnlySequence<byte> payload, uint mask)
    {
        if (mask == 0) return;
        long offset = 0;
        foreach (var segment in payload)
        {
            // The pipe's memory is ours and writable; the sequence type is only read-only by contract.
            Masking.Apply(MemoryMarshal.AsMemory(segment).Span, mask, offset);
            offset += segment.Length;
        }
    }
}
