using System.Buffers.Binary;
using System.Text;

namespace Gateway.LoadTest.Protocols;

/// <summary>
/// The few MessagePack encodings the tool writes when it builds a request template (once per slot, not per send):
/// maps, strings, integers, nil. Strings and integers take their smallest encoding, as MessagePack-CSharp writes them.
/// </summary>
public sealed class MsgPackBuilder
{
    private readonly List<byte> _bytes = new();

    public int Length => _bytes.Count;
    public byte[] ToArray() => _bytes.ToArray();

    public MsgPackBuilder Map(int count)
    {
        if (count < 16) _bytes.Add((byte)(0x80 | count));
        else if (count <= 0xFFFF) { _bytes.Add(0xDE); AddBigEndian16((ushort)count); }
        else { _bytes.Add(0xDF); AddBigEndian32((uint)count); }
        return this;
    }

    public MsgPackBuilder Str(string value) => Str(Encoding.UTF8.GetBytes(value));

    public MsgPackBuilder Str(ReadOnlySpan<byte> utf8)
    {
        int n = utf8.Length;
        if (n < 32) _bytes.Add((byte)(0xA0 | n));
        else if (n <= 0xFF) { _bytes.Add(0xD9); _bytes.Add((byte)n); }
        else if (n <= 0xFFFF) { _bytes.Add(0xDA); AddBigEndian16((ushort)n); }
        else { _bytes.Add(0xDB); AddBigEndian32((uint)n); }
        foreach (byte b in utf8) _bytes.Add(b);
        return this;
    }

    public MsgPackBuilder Int(long value)
    {
        if (value >= 0)
        {
            if (value < 128) _bytes.Add((byte)value);
            else if (value <= 0xFF) { _bytes.Add(0xCC); _bytes.Add((byte)value); }
            else if (value <= 0xFFFF) { _bytes.Add(0xCD); AddBigEndian16((ushort)value); }
            else if (value <= 0xFFFFFFFF) { _bytes.Add(0xCE); AddBigEndian32((uint)value); }
            else { _bytes.Add(0xCF); AddBigEndian32((uint)(value >> 32)); AddBigEndian32((uint)value); }
        }
        else if (value >= -32) _bytes.Add((byte)(sbyte)value);
        else if (value >= sbyte.MinValue) { _bytes.Add(0xD0); _bytes.Add((byte)(sbyte)value); }
        else if (value >= short.MinValue) { _bytes.Add(0xD1); AddBigEndian16((ushort)(short)value); }
        else if (value >= int.MinValue) { _bytes.Add(0xD2); AddBigEndian32((uint)(int)value); }
        else { _bytes.Add(0xD3); AddBigEndian32((uint)(value >> 32)); AddBigEndian32((uint)value); }
        return this;
    }

    public MsgPackBuilder Nil()
    {
        _bytes.Add(0xC0);
        return this;
    }

    private void AddBigEndian16(ushort v) { _bytes.Add((byte)(v >> 8)); _bytes.Add((byte)v); }
    private void AddBigEndian32(uint v) { AddBigEndian16((ushort)(v >> 16)); AddBigEndian16((ushort)v); }
}

/// <summary>
/// A forward-only MessagePack reader over a span for the reply path: no allocation, every read bounds-checked
/// (a truncated or malformed message makes a Try method return false, never throw or read past the end).
/// </summary>
public ref struct MsgPackReader(ReadOnlySpan<byte> data)
{
    /// <summary>Deeper than this is treated as malformed rather than recursed into.</summary>
    public const int MaxDepth = 64;

    private readonly ReadOnlySpan<byte> _data = data;
    public int Position;

    public readonly bool End => Position >= _data.Length;
    public readonly byte Peek => _data[Position];

    public bool TryReadMapHeader(out int count)
    {
        count = 0;
        if (End) return false;
        byte b = _data[Position];
        if (b is >= 0x80 and <= 0x8F) { count = b & 0x0F; Position++; return true; }
        if (b == 0xDE) return TryLength(2, out count);
        if (b == 0xDF) return TryLength(4, out count);
        return false;
    }

    /// <summary>A str's bytes (any of the four str encodings).</summary>
    public bool TryReadString(out ReadOnlySpan<byte> value)
    {
        value = default;
        if (End) return false;
        byte b = _data[Position];
        int length;
        if (b is >= 0xA0 and <= 0xBF) { length = b & 0x1F; Position++; }
        else if (b == 0xD9) { if (!TryLength(1, out length)) return false; }
        else if (b == 0xDA) { if (!TryLength(2, out length)) return false; }
        else if (b == 0xDB) { if (!TryLength(4, out length)) return false; }
        else return false;
        if (length > _data.Length - Position) return false;
        value = _data.Slice(Position, length);
        Position += length;
        return true;
    }

    /// <summary>Any integer encoding that fits a long.</summary>
    public bool TryReadInt64(out long value)
    {
        value = 0;
        if (End) return false;
        byte b = _data[Position];
        if (b <= 0x7F) { value = b; Position++; return true; }
        if (b >= 0xE0) { value = (sbyte)b; Position++; return true; }
        int size = b switch { 0xCC or 0xD0 => 1, 0xCD or 0xD1 => 2, 0xCE or 0xD2 => 4, 0xCF or 0xD3 => 8, _ => 0 };
        if (size == 0 || _data.Length - Position < 1 + size) return false;
        var s = _data.Slice(Position + 1, size);
        switch (b)
        {
            case 0xCC: value = s[0]; break;
            case 0xCD: value = BinaryPrimitives.ReadUInt16BigEndian(s); break;
            case 0xCE: value = BinaryPrimitives.ReadUInt32BigEndian(s); break;
            case 0xCF:
                ulong u = BinaryPrimitives.ReadUInt64BigEndian(s);
                if (u > long.MaxValue) return false;
                value = (long)u;
                break;
            case 0xD0: value = (sbyte)s[0]; break;
            case 0xD1: value = BinaryPrimitives.ReadInt16BigEndian(s); break;
            case 0xD2: value = BinaryPrimitives.ReadInt32BigEndian(s); break;
            case 0xD3: value = BinaryPrimitives.ReadInt64BigEndian(s); break;
        }
        Position += 1 + size;
        return true;
    }

    public bool TryReadNil()
    {
        if (End || _data[Position] != 0xC0) return false;
        Position++;
        return true;
    }

    public readonly bool IsNil => !End && _data[Position] == 0xC0;
    public readonly bool IsTrue => !End && _data[Position] == 0xC3;

    /// <summary>Skips one whole value (maps and arrays with everything in them).</summary>
    public bool TrySkip(int depth = 0)
    {
        if (End || depth > MaxDepth) return false;
        byte b = _data[Position];
        if (b <= 0x7F || b >= 0xE0 || b is 0xC0 or 0xC2 or 0xC3) { Position++; return true; }
        if (b is >= 0xA0 and <= 0xBF) return Advance(1 + (b & 0x1F));
        if (b is >= 0x80 and <= 0x8F) { Position++; return SkipItems(2L * (b & 0x0F), depth); }
        if (b is >= 0x90 and <= 0x9F) { Position++; return SkipItems(b & 0x0F, depth); }
        int length;
        switch (b)
        {
            case 0xC4: case 0xD9: return TryLength(1, out length) && Advance(length);
            case 0xC5: case 0xDA: return TryLength(2, out length) && Advance(length);
            case 0xC6: case 0xDB: return TryLength(4, out length) && Advance(length);
            case 0xC7: return TryLength(1, out length) && Advance(1 + length); // ext 8: type byte, data
            case 0xC8: return TryLength(2, out length) && Advance(1 + length);
            case 0xC9: return TryLength(4, out length) && Advance(1 + length);
            case 0xCA: return Advance(5);
            case 0xCB: return Advance(9);
            case 0xCC: case 0xD0: return Advance(2);
            case 0xCD: case 0xD1: return Advance(3);
            case 0xCE: case 0xD2: return Advance(5);
            case 0xCF: case 0xD3: return Advance(9);
            case 0xD4: return Advance(3);  // fixext 1: type, 1 byte
            case 0xD5: return Advance(4);
            case 0xD6: return Advance(6);  // fixext 4 (a timestamp 32)
            case 0xD7: return Advance(10); // fixext 8 (a timestamp 64)
            case 0xD8: return Advance(18);
            case 0xDC: return TryLength(2, out length) && SkipItems(length, depth);
            case 0xDD: return TryLength(4, out length) && SkipItems(length, depth);
            case 0xDE: return TryLength(2, out length) && SkipItems(2L * length, depth);
            case 0xDF: return TryLength(4, out length) && SkipItems(2L * length, depth);
            default: return false; // 0xC1 is never used
        }
    }

    private bool SkipItems(long count, int depth)
    {
        // Every item takes at least one byte: a header claiming more than what is left is malformed (and no loop runs long).
        if (count > _data.Length - Position) return false;
        for (long i = 0; i < count; i++)
            if (!TrySkip(depth + 1)) return false;
        return true;
    }

    private bool Advance(int bytes)
    {
        if (bytes < 0 || bytes > _data.Length - Position) return false;
        Position += bytes;
        return true;
    }

    /// <summary>Reads a big-endian length of <paramref name="size"/> bytes after the type byte.</summary>
    private bool TryLength(int size, out int length)
    {
        length = 0;
        if (_data.Length - Position < 1 + size) return false;
        var s = _data.Slice(Position + 1, size);
        uint v = size switch { 1 => s[0], 2 => BinaryPrimitives.ReadUInt16BigEndian(s), _ => BinaryPrimitives.ReadUInt32BigEndian(s) };
        if (v > int.MaxValue) return false;
        length = (int)v;
        Position += 1 + size;
        return true;
    }
}
