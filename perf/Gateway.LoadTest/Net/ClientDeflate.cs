using System.Buffers;
using System.Buffers.Binary;
using Gateway.Protocol.Compression;

namespace Gateway.LoadTest.Net;

/// <summary>
/// The client half of permessage-deflate (RFC 7692) for one connection, with the gateway's own native zlib streams so
/// the tool spends on compression what the server does and allocates nothing per message: buffers are kept and grown.
/// The client always compresses each message on its own (full flush, no context), which is valid whatever the server
/// answered; the server's messages are inflated with its context kept unless it promised server_no_context_takeover.
/// Used by one receive loop (inflate) and one writer loop (compress), never concurrently on the same half.
/// </summary>
public sealed class ClientDeflate : IDisposable
{
    /// <summary>What the tool offers: no context either way, so neither side keeps a window per idle connection.</summary>
    public const string Offer = "permessage-deflate; client_no_context_takeover; server_no_context_takeover";

    // Largest client frame header (10) plus the masking key.
    private const int HeaderRoom = 14;
    // The gateway's default level (Gateway:Compression:Level): a browser-like client at the server's cost.
    private const int Level = 1;

    private readonly ZLibDeflater _deflater;
    private readonly ZLibInflater _inflater;
    private readonly bool _serverKeepsContext;
    private readonly int _maxMessageBytes;
    private byte[] _plain = ArrayPool<byte>.Shared.Rent(4096);
    private byte[] _compressed = ArrayPool<byte>.Shared.Rent(4096);
    private byte[] _inflated = ArrayPool<byte>.Shared.Rent(4096);

    private ClientDeflate(bool serverNoContextTakeover, int serverMaxWindowBits, int clientMaxWindowBits, int maxMessageBytes)
    {
        _serverKeepsContext = !serverNoContextTakeover;
        _maxMessageBytes = maxMessageBytes;
        _deflater = new ZLibDeflater(Level, clientMaxWindowBits);
        // Some zlib builds turn a requested 8 into 9; a larger window than the sender's decodes its data too.
        _inflater = new ZLibInflater(Math.Max(9, serverMaxWindowBits));
    }

    public bool ServerNoContextTakeover => !_serverKeepsContext;

    /// <summary>
    /// The connection's codec when <paramref name="answer"/> (the server's Sec-WebSocket-Extensions, null when absent)
    /// accepted permessage-deflate; null when it declined. Throws <see cref="HandshakeException"/> for an answer RFC 7692
    /// §5 forbids (an unknown extension or parameter, a bad window size).
    /// </summary>
    public static ClientDeflate? FromAnswer(string? answer, int maxMessageBytes)
    {
        if (string.IsNullOrWhiteSpace(answer)) return null;
        var parts = answer.Split(';', StringSplitOptions.TrimEntries);
        if (!parts[0].Equals("permessage-deflate", StringComparison.OrdinalIgnoreCase) || answer.Contains(','))
            throw new HandshakeException($"server answered an extension the client did not offer: '{answer}'");
        bool serverNoContext = false;
        int serverBits = 15, clientBits = 15;
        foreach (var part in parts.AsSpan(1))
        {
            int eq = part.IndexOf('=');
            string name = (eq < 0 ? part : part[..eq]).Trim();
            string? value = eq < 0 ? null : part[(eq + 1)..].Trim().Trim('"');
            switch (name.ToLowerInvariant())
            {
                case "server_no_context_takeover": serverNoContext = true; break;
                case "client_no_context_takeover": break; // the client never keeps context anyway
                case "server_max_window_bits": serverBits = Bits(value, answer); break;
                case "client_max_window_bits": clientBits = Bits(value, answer); break;
                default: throw new HandshakeException($"unknown permessage-deflate parameter '{name}' in '{answer}'");
            }
        }
        return new ClientDeflate(serverNoContext, serverBits, clientBits, maxMessageBytes);
    }

    private static int Bits(string? value, string answer) =>
        int.TryParse(value, out int bits) && bits is >= 8 and <= 15 ? bits
            : throw new HandshakeException($"bad window bits '{value}' in '{answer}' (8-15)");

    /// <summary>
    /// Compresses one complete masked client data frame into a new masked frame with RSV1 set (same key), returned as a
    /// view of an internal buffer valid until the next call; returns <paramref name="frame"/> itself when it is not a
    /// whole data message or compression would not make it smaller.
    /// </summary>
    public ReadOnlyMemory<byte> Compress(ReadOnlyMemory<byte> frame)
    {
        var span = frame.Span;
        if (span.Length < 6) return frame;
        byte b0 = span[0];
        int opcode = b0 & 0x0F;
        if ((b0 & 0xF0) != 0x80 || (opcode != Frames.OpText && opcode != Frames.OpBinary)) return frame;
        int code = span[1] & 0x7F;
        int header = code < 126 ? 2 : code == 126 ? 4 : 10;
        var key = span.Slice(header, 4);
        var masked = span.Slice(header + 4);
        if (_plain.Length < masked.Length) Replace(ref _plain, masked.Length);
        var plain = _plain.AsSpan(0, masked.Length);
        masked.CopyTo(plain);
        Frames.Mask(plain, key, 0);

        if (_compressed.Length < HeaderRoom + masked.Length / 2 + 64) Replace(ref _compressed, HeaderRoom + masked.Length / 2 + 64);
        int length = _deflater.Compress(plain, ref _compressed, HeaderRoom, independent: true);
        int h = Frames.HeaderLength(length);
        int total = h + 4 + length;
        if (total >= span.Length) return frame;
        int start = HeaderRoom - h - 4;
        var output = _compressed.AsSpan(start, total);
        output[0] = (byte)(b0 | 0x40);
        if (length < 126) output[1] = (byte)(0x80 | length);
        else if (length <= 0xFFFF) { output[1] = 0x80 | 126; BinaryPrimitives.WriteUInt16BigEndian(output[2..], (ushort)length); }
        else { output[1] = 0x80 | 127; BinaryPrimitives.WriteUInt64BigEndian(output[2..], (ulong)length); }
        key.CopyTo(output.Slice(h, 4));
        Frames.Mask(output.Slice(h + 4), key, 0);
        return _compressed.AsMemory(start, total);
    }

    /// <summary>
    /// Inflates one compressed message (its frames' payloads concatenated) into an internal buffer valid until the next
    /// call; false with <paramref name="error"/> for invalid deflate data or a message over the client's limit.
    /// </summary>
    public bool TryInflate(ReadOnlySpan<byte> compressed, out ReadOnlySpan<byte> message, out string? error)
    {
        int written = 0;
        message = default;
        if (!Feed(compressed, ref written, out error) || !Feed([0x00, 0x00, 0xFF, 0xFF], ref written, out error))
        {
            _inflater.Reset();
            return false;
        }
        if (!_serverKeepsContext && !_inflater.Reset()) { error = "zlib inflateReset failed"; return false; }
        message = _inflated.AsSpan(0, written);
        return true;
    }

    private bool Feed(ReadOnlySpan<byte> input, ref int written, out string? error)
    {
        while (true)
        {
            var status = _inflater.Inflate(input, _inflated.AsSpan(written), out int consumed, out int produced);
            written += produced;
            input = input[consumed..];
            if (status == ZLibInflater.Status.DataError) { error = "server sent invalid deflate data"; return false; }
            // Output space left over means zlib has given everything this input holds.
            if (input.IsEmpty && written < _inflated.Length) { error = null; return true; }
            if (status == ZLibInflater.Status.StreamEnd && !input.IsEmpty) { error = "server's deflate stream ended inside a message"; return false; }
            if (written == _inflated.Length)
            {
                if (_inflated.Length >= _maxMessageBytes) { error = $"inflated message over the client's {_maxMessageBytes} limit"; return false; }
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(_maxMessageBytes, _inflated.Length * 2));
                _inflated.AsSpan(0, written).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_inflated);
                _inflated = bigger;
            }
        }
    }

    private static void Replace(ref byte[] buffer, int size)
    {
        ArrayPool<byte>.Shared.Return(buffer);
        buffer = ArrayPool<byte>.Shared.Rent(size);
    }

    public void Dispose()
    {
        _deflater.Dispose();
        _inflater.Dispose();
    }
}
