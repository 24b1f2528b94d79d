using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Unicode;

namespace Gateway.Protocol.WebSockets;

/// <summary>
/// Incremental UTF-8 validator for text messages that arrive in pieces (TCP reads, fragments).
/// It rejects at the first byte that cannot start or continue a valid sequence, so a client
/// that sends garbage is failed before the rest of its message arrives (RFC 6455 §8.1).
/// Bulk data is checked with the vectorized <see cref="Utf8.IsValid(ReadOnlySpan{byte})"/>; only
/// the bytes of a sequence split across pieces go through the byte-at-a-time state machine.
/// </summary>
public struct Utf8Validator
{
    // States of the byte-at-a-time machine: what the next byte must be.
    private const byte Accept = 0;      // at a character boundary
    private const byte Need1 = 1;       // one continuation byte 80..BF
    private const byte Need2 = 2;       // two continuation bytes
    private const byte Need3 = 3;       // three continuation bytes
    private const byte AfterE0 = 4;     // A0..BF then 1 (no overlong 3-byte forms)
    private const byte AfterED = 5;     // 80..9F then 1 (no UTF-16 surrogates)
    private const byte AfterF0 = 6;     // 90..BF then 2 (no overlong 4-byte forms)
    private const byte AfterF4 = 7;     // 80..8F then 2 (nothing above U+10FFFF)
    private const byte Reject = 255;

    private byte _state;

    /// <summary>True when the bytes seen so far end on a character boundary.</summary>
    public readonly bool IsAtBoundary => _state == Accept;

    /// <summary>Forgets any partial sequence; call between messages.</summary>
    public void Reset() => _state = Accept;

    /// <summary>Validates the next piece; false as soon as the bytes so far cannot be valid UTF-8.</summary>
    public bool Append(ReadOnlySpan<byte> data)
    {
        if (_state == Reject) return false;
        int i = 0;
        while (_state != Accept && i < data.Length)
        {
            _state = Step(_state, data[i++]);
            if (_state == Reject) return false;
        }
        if (i == data.Length) return true;

        ReadOnlySpan<byte> rest = data.Slice(i);
        int tail = IncompleteTailStart(rest);
        if (!Utf8.IsValid(rest.Slice(0, tail)))
        {
            _state = Reject;
            return false;
        }
        for (int j = tail; j < rest.Length; j++)
        {
            _state = Step(_state, rest[j]);
            if (_state == Reject) return false;
        }
        return true;
    }

    /// <summary>Validates every segment of a sequence.</summary>
    public bool Append(in ReadOnlySequence<byte> data)
    {
        if (data.IsSingleSegment) return Append(data.FirstSpan);
        foreach (var segment in data)
        {
            if (!Append(segment.Span)) return false;
        }
        return true;
    }

    /// <summary>One-shot check of a complete text (a close reason, a whole message).</summary>
    public static bool IsValid(ReadOnlySpan<byte> data) => Utf8.IsValid(data);

    // Start of a multi-byte sequence at the end of the piece that is not complete yet, or
    // data.Length when the piece ends on a boundary (or is so broken that IsValid will say so).
    private static int IncompleteTailStart(ReadOnlySpan<byte> data)
    {
        int stop = Math.Max(0, data.Length - 3);
        for (int k = data.Length - 1; k >= stop; k--)
        {
            byte b = data[k];
            if ((b & 0xC0) == 0x80) continue;
            if (b < 0xC0) return data.Length;
            int needed = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
            return k + needed > data.Length ? k : data.Length;
        }
        return data.Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Step(byte state, byte b)
    {
        switch (state)
        {
            case Accept:
                if (b < 0x80) return Accept;
                if (b < 0xC2) return Reject;
                if (b < 0xE0) return Need1;
                if (b == 0xE0) return AfterE0;
                if (b == 0xED) return AfterED;
                if (b < 0xF0) return Need2;
                if (b == 0xF0) return AfterF0;
                if (b < 0xF4) return Need3;
                if (b == 0xF4) return AfterF4;
                return Reject;
            case Need1: return (b & 0xC0) == 0x80 ? Accept : Reject;
            case Need2: return (b & 0xC0) == 0x80 ? Need1 : Reject;
            case Need3: return (b & 0xC0) == 0x80 ? Need2 : Reject;
            case AfterE0: return b is >= 0xA0 and <= 0xBF ? Need1 : Reject;
            case AfterED: return b is >= 0x80 and <= 0x9F ? Need1 : Reject;
            case AfterF0: return b is >= 0x90 and <= 0xBF ? Need2 : Reject;
            case AfterF4: return b is >= 0x80 and <= 0x8F ? Need2 : Reject;
            default: return Reject;
        }
    }
}
