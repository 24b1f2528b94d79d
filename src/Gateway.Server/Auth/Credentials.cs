using System.Text;
using Gateway.Protocol.Http;
using Gateway.Server.Options;

namespace Gateway.Server.Auth;

/// <summary>
/// Finds the bearer token of a handshake, first match wins: <c>Authorization: Bearer T</c>, a <c>bearer.T</c> entry in
/// <c>Sec-WebSocket-Protocol</c> (browsers cannot set headers on a WebSocket), the Gateway:Auth:QueryParameter, the
/// Gateway:Auth:Cookie. Also the query parsing and the redaction every log line that shows a request target uses.
/// </summary>
internal static class Credentials
{
    public static string? Find(HttpRequestHead request, AuthOptions options, out CredentialSource source)
    {
        for (int i = 0; i < request.HeaderCount; i++)
        {
            if (!Ascii.EqualsIgnoreCase(request.HeaderName(i), "Authorization"u8)) continue;
            var value = request.HeaderValue(i).Trim(" \t"u8);
            if (value.Length > 7 && Ascii.EqualsIgnoreCase(value[..7], "Bearer "u8))
            {
                var token = value[7..].Trim(" \t"u8);
                if (!token.IsEmpty)
                {
                    source = CredentialSource.Header;
                    return Encoding.Latin1.GetString(token);
                }
            }
        }
        for (int i = 0; i < request.HeaderCount; i++)
        {
            if (!Ascii.EqualsIgnoreCase(request.HeaderName(i), "Sec-WebSocket-Protocol"u8)) continue;
            var value = request.HeaderValue(i);
            foreach (var range in value.Split((byte)','))
            {
                var offer = value[range].Trim(" \t"u8);
                if (offer.Length > WebSocketHandshake.BearerPrefix.Length && offer.StartsWith("bearer."u8))
                {
                    source = CredentialSource.Subprotocol;
                    return Encoding.Latin1.GetString(offer[WebSocketHandshake.BearerPrefix.Length..]);
                }
            }
        }
        if (!string.IsNullOrEmpty(options.QueryParameter) && QueryValue(request.Query, options.QueryParameter) is { Length: > 0 } fromQuery)
        {
            source = CredentialSource.Query;
            return fromQuery;
        }
        if (!string.IsNullOrEmpty(options.Cookie) && CookieValue(request, options.Cookie) is { Length: > 0 } fromCookie)
        {
            source = CredentialSource.Cookie;
            return fromCookie;
        }
        source = CredentialSource.None;
        return null;
    }

    /// <summary>The first value of <paramref name="name"/> in a query string, percent-decoded.</summary>
    public static string? QueryValue(string? query, string name)
    {
        if (string.IsNullOrEmpty(query)) return null;
        foreach (var range in query.AsSpan().Split('&'))
        {
            var pair = query.AsSpan()[range];
            int eq = pair.IndexOf('=');
            var key = eq < 0 ? pair : pair[..eq];
            if (!key.SequenceEqual(name)) continue;
            return eq < 0 ? "" : Decode(pair[(eq + 1)..]);
        }
        return null;
    }

    /// <summary>Every parameter of a query string, percent-decoded; the first value of a repeated name wins.</summary>
    public static IReadOnlyDictionary<string, string> ParseQuery(string? query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(query)) return result;
        foreach (var range in query.AsSpan().Split('&'))
        {
            var pair = query.AsSpan()[range];
            if (pair.IsEmpty) continue;
            int eq = pair.IndexOf('=');
            string key = Decode(eq < 0 ? pair : pair[..eq]);
            result.TryAdd(key, eq < 0 ? "" : Decode(pair[(eq + 1)..]));
        }
        return result;
    }

    private static string? CookieValue(HttpRequestHead request, string name)
    {
        for (int i = 0; i < request.HeaderCount; i++)
        {
            if (!Ascii.EqualsIgnoreCase(request.HeaderName(i), "Cookie"u8)) continue;
            string header = Encoding.Latin1.GetString(request.HeaderValue(i));
            foreach (var range in header.AsSpan().Split(';'))
            {
                var pair = header.AsSpan()[range].Trim();
                int eq = pair.IndexOf('=');
                if (eq <= 0 || !pair[..eq].Trim().SequenceEqual(name)) continue;
                var value = pair[(eq + 1)..].Trim();
                if (value.Length >= 2 && value[0] == '"' && value[^1] == '"') value = value[1..^1];
                return value.ToString();
            }
        }
        return null;
    }

    private static string Decode(ReadOnlySpan<char> value)
    {
        // '+' is a space in form encoding; a JWT never contains either, so the distinction never costs a token.
        string s = value.ToString().Replace('+', ' ');
        try { return Uri.UnescapeDataString(s); }
        catch (UriFormatException) { return s; }
    }

    /// <summary>
    /// A request target fit for a log line: the path, and the query's parameter names with every value replaced, so a
    /// token passed as <c>?access_token=...</c> (or under any other name) never reaches a log.
    /// </summary>
    public static string RedactTarget(string path, string? query)
    {
        if (query is null) return path;
        var sb = new StringBuilder(path.Length + 32).Append(path).Append('?');
        bool first = true;
        foreach (var range in query.AsSpan().Split('&'))
        {
            var pair = query.AsSpan()[range];
            if (!first) sb.Append('&');
            first = false;
            int eq = pair.IndexOf('=');
            var key = eq < 0 ? pair : pair[..eq];
            // Parameter names are the client's text too: anything but a plain name is hidden as well.
            if (key.Length <= 64 && !key.ContainsAnyExcept(SafeNameChars)) sb.Append(key);
            else sb.Append("(name)");
            if (eq >= 0) sb.Append("=(redacted)");
        }
        return sb.ToString();
    }

    private static readonly System.Buffers.SearchValues<char> SafeNameChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.");
}
