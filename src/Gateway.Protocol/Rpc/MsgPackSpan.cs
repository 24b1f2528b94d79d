using System.Buffers.Binary;

namespace Gateway.Protocol.Rpc;

/// <summary>
/// The MessagePack the hot path reads (envelope keys, ids, skipping and checking values), over one contiguous span.
/// Every method answers false for anything it does not take, malformed or merely unusual (a key split over segments, a
/// timestamp, a non-ASCII path), and never throws: the caller then reads the message again with the library's
/// <c>MessagePackReader</c>, which gives the precise problem. So this only has to agree with that path on what it
/// accepts.
/// </summary>
/// <remarks>
/// Why not the library's reader on this path: it walks a <c>ReadOnlySequence</c> through a sequence reader, and on a
/// small request that bookkeeping, not the format, was most of the envelope's cost (perf/README.md, "MessagePack").
/// </remarks>
internal static class MsgPackSpan
{
    /// <summary>A str of any width at <paramref name="pos"/>: its bytes' start and length; <paramref name="pos"/> moves past it.</summary>
    public static bool TryReadStr(ReadOnlySpan<byte> s, ref int pos, out int start, out int length)
    {
        start = 0;
        length = 0;
        if ((uint)pos >= (uint)s.Length) return false;
        byte code = s[pos];
        int header;
        long len;
        if (code is >= 0xa0 and <= 0xbf) { header = 1; len = code & 0x1f; }
        else if (code == 0xd9) { header = 2; if (!Length(s, pos, 1, out len)) return false; }
        else if (code == 0xda) { header = 3; if (!Length(s, pos, 2, out len)) return false; }
        else if (code == 0xdb) { header = 5; if (!Length(s, pos, 4, out len)) return false; }
        else return false;
        long end = (long)pos + header + len;
        if (end > s.Length) return false;
        start = pos + header;
        length = (int)len;
        pos = (int)end;
        return true;
    }

    /// <summary>An integer of any width but uint64 (which may not fit the protocol's signed range): skipped.</summary>
    public static bool TrySkipSignedRangeInteger(ReadOnlySpan<byte> s, ref int pos)
    {
        if ((uint)pos >= (uint)s.Length) return false;
        byte code = s[pos];
        int size = code switch
        {
            <= 0x7f or >= 0xe0 => 1,
            0xcc or 0xd0 => 2,
            0xcd or 0xd1 => 3,
            0xce or 0xd2 => 5,
            0xd3 => 9,
            _ => 0,
        };
        if (size == 0 || pos + size > s.Length) return false;
        pos += size;
        return true;
    }

    /// <summary>A map header (fixmap, map16, map32) whose entries could all fit in the rest of the span.</summary>
    public static bool TryReadMapHeader(ReadOnlySpan<byte> s, ref int pos, out int count)
    {
        count = 0;
        if ((uint)pos >= (uint)s.Length) return false;
        byte code = s[pos];
        long n;
        int header;
        if (code is >= 0x80 and <= 0x8f) { n = code & 0x0f; header = 1; }
        else if (code == 0xde) { header = 3; if (!Length(s, pos, 2, out n)) return false; }
        else if (code == 0xdf) { header = 5; if (!Length(s, pos, 4, out n)) return false; }
        else return false;
        // Every entry takes at least two bytes: a header claiming more is refused before anything is read.
        if (n * 2 > s.Length - pos - header) return false;
        count = (int)n;
        pos += header;
        return true;
    }

    public static bool IsMap(byte code) => code is (>= 0x80 and <= 0x8f) or 0xde or 0xdf;

    /// <summary>
    /// Skips one value whose nesting level is <paramref name="depth"/>; a map or array at a level over
    /// <paramref name="maxDepth"/> is refused, as the envelope's reader refuses it.
    /// </summary>
    public static bool TrySkip(ReadOnlySpan<byte> s, ref int pos, int depth, int maxDepth) =>
        Walk(s, ref pos, depth, maxDepth, check: false);

    /// <summary>
    /// Skips one value (top level = 1) that JSON can hold, by the transcoder's rules: finite floats, valid UTF-8
    /// strings, map keys that are strings or integers. Extensions (timestamps) are left to the library's reader.
    /// </summary>
    public static bool TrySkipJsonCompatible(ReadOnlySpan<byte> s, ref int pos, int maxDepth) =>
        Walk(s, ref pos, 1, maxDepth, check: true);

    private static bool Walk(ReadOnlySpan<byte> s, ref int pos, int depth, int maxDepth, bool check)
    {
        if ((uint)pos >= (uint)s.Length) return false;
        byte code = s[pos];
        switch (code)
        {
            case <= 0x7f or >= 0xe0 or 0xc0 or 0xc2 or 0xc3:
                pos++;
                return true;
            case >= 0xa0 and <= 0xbf or 0xd9 or 0xda or 0xdb:
                if (!TryReadStr(s, ref pos, out int start, out int length)) return false;
                return !check || System.Text.Unicode.Utf8.IsValid(s.Slice(start, length));
            case >= 0x80 and <= 0x8f or 0xde or 0xdf:
            {
                if (depth > maxDepth || !TryReadMapHeader(s, ref pos, out int count)) return false;
                for (int i = 0; i < count; i++)
                {
                    if (check)
                    {
                        if ((uint)pos >= (uint)s.Length) return false;
                        byte key = s[pos];
                        bool isString = key is (>= 0xa0 and <= 0xbf) or 0xd9 or 0xda or 0xdb;
                        bool isInteger = key is <= 0x7f or >= 0xe0 or (>= 0xcc and <= 0xd3);
                        if (!isString && !isInteger) return false;
                    }
                    if (!Walk(s, ref pos, depth + 1, maxDepth, check) || !Walk(s, ref pos, depth + 1, maxDepth, check)) return false;
                }
                return true;
            }
            case >= 0x90 and <= 0x9f or 0xdc or 0xdd:
            {
                if (depth > maxDepth) return false;
                long n;
                int header;
                if (code <= 0x9f) { n = code & 0x0f; header = 1; }
                else if (!Length(s, pos, code == 0xdc ? 2 : 4, out n)) return false;
                else header = code == 0xdc ? 3 : 5;
                if (n > s.Length - pos - header) return false;
                pos += header;
                for (long i = 0; i < n; i++)
                    if (!Walk(s, ref pos, depth + 1, maxDepth, check)) return false;
                return true;
            }
            case 0xca:
                if (pos + 5 > s.Length) return false;
                if (check && !float.IsFinite(BinaryPrimitives.ReadSingleBigEndian(s.Slice(pos + 1)))) return false;
                pos += 5;
                return true;
            case 0xcb:
                if (pos + 9 > s.Length) return false;
                if (check && !double.IsFinite(BinaryPrimitives.ReadDoubleBigEndian(s.Slice(pos + 1)))) return false;
                pos += 9;
                return true;
            case >= 0xcc and <= 0xd3:
            {
                int size = 1 << ((code - 0xcc) & 3);
                if (pos + 1 + size > s.Length) return false;
                pos += 1 + size;
                return true;
            }
            case 0xc4 or 0xc5 or 0xc6:
            {
                int width = code == 0xc4 ? 1 : code == 0xc5 ? 2 : 4;
                if (!Length(s, pos, width, out long len)) return false;
                long end = (long)pos + 1 + width + len;
                if (end > s.Length) return false;
                pos = (int)end;
                return true;
            }
            case >= 0xd4 and <= 0xd8 or 0xc7 or 0xc8 or 0xc9:
            {
                // Only the timestamp (-1) crosses to JSON, and the library checks its layout: leave it to the library then.
                if (check) return false;
                long len, end;
                if (code >= 0xd4) { len = 1 << (code - 0xd4); end = (long)pos + 2 + len; }
                else
                {
                    int width = code == 0xc7 ? 1 : code == 0xc8 ? 2 : 4;
                    if (!Length(s, pos, width, out len)) return false;
                    end = (long)pos + 1 + width + 1 + len;
                }
                if (end > s.Length) return false;
                pos = (int)end;
                return true;
            }
            default:
                return false; // 0xc1: never used
        }
    }

    // A big-endian length of `width` bytes right after the type code at `pos`.
    private static bool Length(ReadOnlySpan<byte> s, int pos, int width, out long length)
    {
        length = 0;
        if (pos + 1 + width > s.Length) return false;
        var at = s.Slice(pos + 1, width);
        length = width switch
        {
            1 => at[0],
            2 => BinaryPrimitives.ReadUInt16BigEndian(at),
            _ => BinaryPrimitives.ReadUInt32BigEndian(at),
        };
        return true;
    }
}
