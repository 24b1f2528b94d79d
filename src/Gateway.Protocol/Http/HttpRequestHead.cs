using System.Text;

namespace Gateway.Protocol.Http;

/// <summary>
/// The request line and headers of one HTTP/1.1 request. The whole head is kept as one byte block and
/// headers as ranges into it; strings are made only for what is asked for (path, a header's value).
/// </summary>
public sealed class HttpRequestHead
{
    internal readonly struct Range(int start, int length)
    {
        public readonly int Start = start;
        public readonly int Length = length;
    }

    private readonly byte[] _block;
    private readonly Range[] _names;
    private readonly Range[] _values;
    private IReadOnlyDictionary<string, string>? _dictionary;

    internal HttpRequestHead(byte[] block, Range method, string target, int versionMinor, Range[] names, Range[] values, int count)
    {
        _block = block;
        _names = names;
        _values = values;
        HeaderCount = count;
        MethodBytes = block.AsMemory(method.Start, method.Length);
        RawTarget = target;
        int q = target.IndexOf('?');
        Path = q < 0 ? target : target.Substring(0, q);
        Query = q < 0 ? null : target.Substring(q + 1);
        VersionMinor = versionMinor;
    }

    public ReadOnlyMemory<byte> MethodBytes { get; }
    public bool IsGet => MethodBytes.Span.SequenceEqual("GET"u8);
    public string Method => Encoding.ASCII.GetString(MethodBytes.Span);
    /// <summary>The request target as sent (origin-form).</summary>
    public string RawTarget { get; }
    /// <summary>The target up to '?', not percent-decoded.</summary>
    public string Path { get; }
    /// <summary>The target after '?', or null.</summary>
    public string? Query { get; }
    /// <summary>The x of HTTP/1.x.</summary>
    public int VersionMinor { get; }
    public int HeaderCount { get; }

    public ReadOnlySpan<byte> HeaderName(int i) => _block.AsSpan(_names[i].Start, _names[i].Length);
    public ReadOnlySpan<byte> HeaderValue(int i) => _block.AsSpan(_values[i].Start, _values[i].Length);

    /// <summary>How many times a header (case-insensitive name) occurs.</summary>
    public int Count(ReadOnlySpan<byte> name)
    {
        int n = 0;
        for (int i = 0; i < HeaderCount; i++) if (Ascii.EqualsIgnoreCase(HeaderName(i), name)) n++;
        return n;
    }

    /// <summary>The first header with that name.</summary>
    public bool TryGet(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        for (int i = 0; i < HeaderCount; i++)
        {
            if (Ascii.EqualsIgnoreCase(HeaderName(i), name))
            {
                value = HeaderValue(i);
                return true;
            }
        }
        value = default;
        return false;
    }

    public string? GetString(ReadOnlySpan<byte> name) => TryGet(name, out var v) ? Encoding.Latin1.GetString(v) : null;

    /// <summary>
    /// True when any header of that name holds <paramref name="token"/> in its comma-separated list
    /// (case-insensitive, surrounding whitespace ignored), as Connection and Upgrade are matched.
    /// </summary>
    public bool ContainsToken(ReadOnlySpan<byte> name, ReadOnlySpan<byte> token)
    {
        for (int i = 0; i < HeaderCount; i++)
        {
            if (!Ascii.EqualsIgnoreCase(HeaderName(i), name)) continue;
            foreach (var range in HeaderValue(i).Split((byte)','))
            {
                var item = HeaderValue(i)[range].Trim(" \t"u8);
                if (Ascii.EqualsIgnoreCase(item, token)) return true;
            }
        }
        return false;
    }

    /// <summary>All headers as strings, repeated names joined with ", " (for handlers; made once, on demand).</summary>
    public IReadOnlyDictionary<string, string> ToDictionary()
    {
        if (_dictionary is not null) return _dictionary;
        var d = new Dictionary<string, string>(HeaderCount, StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < HeaderCount; i++)
        {
            string key = Encoding.ASCII.GetString(HeaderName(i));
            string value = Encoding.Latin1.GetString(HeaderValue(i));
            d[key] = d.TryGetValue(key, out var prior) ? prior + ", " + value : value;
        }
        return _dictionary = d;
    }
}
