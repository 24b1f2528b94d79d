using System.Buffers;
using System.Text;

namespace Gateway.Protocol.Http;

public enum HttpParseStatus
{
    /// <summary>The head has not fully arrived; read more.</summary>
    Incomplete,
    Done,
    /// <summary>Reject with <see cref="HttpParseResult.StatusCode"/> and close.</summary>
    Error,
}

public readonly record struct HttpParseResult(HttpParseStatus Status, HttpRequestHead? Request = null, int StatusCode = 0, string? Error = null);

/// <summary>
/// Parses an HTTP/1.1 request head (RFC 9112 §2–§5) from a pipe's buffer: strict CRLF lines, token
/// method and header names, no whitespace before the colon, no obsolete line folding, bounded size
/// and header count. No regex and no string per header.
/// </summary>
public static class HttpRequestParser
{
    private static ReadOnlySpan<byte> EndOfHead => "\r\n\r\n"u8;

    /// <summary>
    /// Looks for a whole head at the start of <paramref name="buffer"/>; on success slices it off
    /// (anything after it, such as early WebSocket frames, stays in the buffer).
    /// </summary>
    public static HttpParseResult TryParse(ref ReadOnlySequence<byte> buffer, int maxHeaderBytes, int maxHeaderCount)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> head, EndOfHead, advancePastDelimiter: true))
        {
            return buffer.Length > maxHeaderBytes
                ? new(HttpParseStatus.Error, StatusCode: 431, Error: "request head exceeds the size limit")
                : new(HttpParseStatus.Incomplete);
        }
        if (head.Length + EndOfHead.Length > maxHeaderBytes)
            return new(HttpParseStatus.Error, StatusCode: 431, Error: "request head exceeds the size limit");

        // One copy per request: the head then owns its bytes independent of the pipe.
        var block = new byte[head.Length + 2];
        head.CopyTo(block);
        "\r\n"u8.CopyTo(block.AsSpan((int)head.Length));
        buffer = buffer.Slice(reader.Position);
        return Parse(block, maxHeaderCount);
    }

    private static HttpParseResult Parse(byte[] block, int maxHeaderCount)
    {
        var span = block.AsSpan();
        int lineEnd = span.IndexOf("\r\n"u8);
        var line = span.Slice(0, lineEnd);
        if (line.ContainsAny((byte)'\r', (byte)'\n')) return Bad("bare CR or LF in request line");

        int sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0) return Bad("malformed request line");
        var method = line.Slice(0, sp1);
        if (!IsToken(method)) return Bad("malformed method");
        var rest = line.Slice(sp1 + 1);
        int sp2 = rest.IndexOf((byte)' ');
        if (sp2 <= 0) return Bad("malformed request line");
        var target = rest.Slice(0, sp2);
        var version = rest.Slice(sp2 + 1);
        if (target[0] != (byte)'/' || target.IndexOfAnyExceptInRange((byte)0x21, (byte)0x7E) >= 0)
            return Bad("request target must be an absolute path");
        if (version.Length != 8 || !version.StartsWith("HTTP/"u8) || version[6] != (byte)'.' || !char.IsAsciiDigit((char)version[5]) || !char.IsAsciiDigit((char)version[7]))
            return Bad("malformed HTTP version");
        if (version[5] != (byte)'1')
            return new(HttpParseStatus.Error, StatusCode: 505, Error: "HTTP version not supported");

        var names = new HttpRequestHead.Range[Math.Min(maxHeaderCount, 32)];
        var values = new HttpRequestHead.Range[names.Length];
        int count = 0;
        int pos = lineEnd + 2;
        while (pos < block.Length)
        {
            int len = span.Slice(pos).IndexOf("\r\n"u8);
            var header = span.Slice(pos, len);
            if (header.Length == 0) break;
            if (header.ContainsAny((byte)'\r', (byte)'\n')) return Bad("bare CR or LF in header");
            if (header[0] is (byte)' ' or (byte)'\t') return Bad("obsolete header line folding");
            int colon = header.IndexOf((byte)':');
            if (colon <= 0) return Bad("malformed header line");
            if (!IsToken(header.Slice(0, colon))) return Bad("malformed header name");
            var value = header.Slice(colon + 1);
            int lead = value.Length - value.TrimStart(" \t"u8).Length;
            value = value.Trim(" \t"u8);
            if (value.IndexOfAnyInRange((byte)0x00, (byte)0x08) >= 0 || value.IndexOfAnyInRange((byte)0x0A, (byte)0x1F) >= 0 || value.Contains((byte)0x7F))
                return Bad("control character in header value");
            if (count == maxHeaderCount)
                return new(HttpParseStatus.Error, StatusCode: 431, Error: "too many headers");
            if (count == names.Length)
            {
                Array.Resize(ref names, Math.Min(maxHeaderCount, names.Length * 2));
                Array.Resize(ref values, names.Length);
            }
            names[count] = new(pos, colon);
            values[count] = new(pos + colon + 1 + lead, value.Length);
            count++;
            pos += len + 2;
        }

        // The head lives as long as its session: an idle connection keeps ranges for the headers it has, not 32 of each.
        if (count != names.Length)
        {
            Array.Resize(ref names, count);
            Array.Resize(ref values, count);
        }
        var request = new HttpRequestHead(block, new(0, method.Length), Encoding.ASCII.GetString(target), version[7] - '0', names, values, count);
        return new(HttpParseStatus.Done, request);
    }

    private static HttpParseResult Bad(string error) => new(HttpParseStatus.Error, StatusCode: 400, Error: error);

    // RFC 9110 §5.6.2 tchar.
    private static bool IsToken(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty) return false;
        foreach (byte b in s)
        {
            bool ok = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
                      b is (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\'' or (byte)'*' or
                          (byte)'+' or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~';
            if (!ok) return false;
        }
        return true;
    }
}
