using System.Text;
using Gateway.Protocol.Compression;

namespace Gateway.Protocol.Http;

/// <summary>
/// Server side of the permessage-deflate negotiation (RFC 7692 §5, §7.1). The client's offers are tried in order and
/// the first acceptable one wins. An offer with an unknown, duplicated, value-less-where-required or out-of-range
/// parameter is declined (the next offer is tried); a declined extension never fails the upgrade, the connection
/// just runs uncompressed.
/// </summary>
public static class PerMessageDeflateNegotiation
{
    public const string ExtensionName = "permessage-deflate";
    public const string HeaderName = "Sec-WebSocket-Extensions";

    // Offers longer than this are parsed every time (browsers send about 40 characters, the load tool 75).
    private const int MaxRememberedOffer = 256;

    /// <summary>
    /// As <see cref="Negotiate(HttpRequestHead, PerMessageDeflateSettings, out string?)"/> with
    /// <paramref name="deflate"/>'s settings, remembering the offers it accepted: a client that sends the same single
    /// Sec-WebSocket-Extensions value as an earlier one gets the same parameters without a parse. Every compressed
    /// connection's upgrade then leaves no garbage behind it (the parse's strings, lists and set are a kilobyte or so),
    /// which a crowd of clients connecting at once would otherwise leave in the heap until the next collection.
    /// </summary>
    public static PerMessageDeflateParameters? Negotiate(HttpRequestHead request, PerMessageDeflate deflate, out string? declined)
    {
        int only = -1;
        for (int i = 0; i < request.HeaderCount; i++)
        {
            if (!Ascii.EqualsIgnoreCase(request.HeaderName(i), "Sec-WebSocket-Extensions"u8)) continue;
            if (only >= 0) { only = -1; break; }
            only = i;
        }
        var value = only >= 0 ? request.HeaderValue(only) : default;
        bool rememberable = only >= 0 && value.Length <= MaxRememberedOffer;
        if (rememberable)
        {
            Span<char> chars = stackalloc char[value.Length];
            Encoding.Latin1.GetChars(value, chars);
            if (deflate.AcceptedOffers.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(chars, out var known))
            {
                declined = null;
                return known;
            }
        }
        var accepted = Negotiate(request, deflate.Settings, out declined);
        // Only a clean acceptance: a declined first offer must still be counted and logged every time. Bounded, as any
        // client may send any offer.
        if (rememberable && accepted is not null && declined is null && deflate.AcceptedOffers.Count < PerMessageDeflate.MaxAcceptedOffers)
            deflate.AcceptedOffers.TryAdd(Encoding.Latin1.GetString(value), accepted);
        return accepted;
    }

    /// <summary>
    /// The parameters for the first acceptable permessage-deflate offer of <paramref name="request"/>, or null.
    /// <paramref name="declined"/> says why the first refused offer was refused (null when none was).
    /// </summary>
    public static PerMessageDeflateParameters? Negotiate(HttpRequestHead request, PerMessageDeflateSettings settings, out string? declined)
    {
        declined = null;
        for (int i = 0; i < request.HeaderCount; i++)
        {
            if (!Ascii.EqualsIgnoreCase(request.HeaderName(i), "Sec-WebSocket-Extensions"u8)) continue;
            foreach (var offer in Split(Encoding.Latin1.GetString(request.HeaderValue(i)), ','))
            {
                var accepted = TryAccept(offer, settings, out var reason);
                if (accepted is not null) return accepted;
                if (reason is not null) declined ??= reason;
            }
        }
        return null;
    }

    /// <summary>
    /// One offer ("permessage-deflate; client_max_window_bits"): the parameters when acceptable; null with
    /// <paramref name="declined"/> set when refused, null with it unset when the offer is another extension.
    /// </summary>
    public static PerMessageDeflateParameters? TryAccept(string offer, PerMessageDeflateSettings settings, out string? declined)
    {
        declined = null;
        var parts = Split(offer, ';');
        if (parts.Count == 0 || !parts[0].Equals(ExtensionName, StringComparison.OrdinalIgnoreCase)) return null;

        bool serverNoContext = false, clientNoContext = false, clientBitsOffered = false;
        int serverBitsOffered = 0, clientBitsHint = 15;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int p = 1; p < parts.Count; p++)
        {
            string part = parts[p];
            int eq = part.IndexOf('=');
            string name = (eq < 0 ? part : part[..eq]).TrimEnd(' ', '\t');
            string? value = eq < 0 ? null : Unquote(part[(eq + 1)..].TrimStart(' ', '\t'));
            if (!seen.Add(name)) return Decline(out declined, $"duplicate parameter '{name}'");
            switch (name.ToLowerInvariant())
            {
                case "server_no_context_takeover":
                    if (value is not null) return Decline(out declined, "server_no_context_takeover takes no value");
                    serverNoContext = true;
                    break;
                case "client_no_context_takeover":
                    if (value is not null) return Decline(out declined, "client_no_context_takeover takes no value");
                    clientNoContext = true;
                    break;
                case "server_max_window_bits":
                    if (!TryWindowBits(value, out serverBitsOffered)) return Decline(out declined, $"server_max_window_bits must be 8 to 15 (got '{value}')");
                    // zlib cannot compress raw deflate with a 256-byte window: decline rather than break the promise.
                    if (serverBitsOffered < 9) return Decline(out declined, "server_max_window_bits=8 is not supported");
                    break;
                case "client_max_window_bits":
                    clientBitsOffered = true;
                    if (value is not null && !TryWindowBits(value, out clientBitsHint)) return Decline(out declined, $"client_max_window_bits must be empty or 8 to 15 (got '{value}')");
                    break;
                default:
                    return Decline(out declined, $"unknown parameter '{name}'");
            }
        }

        // The server may always ask for no context takeover and smaller windows (RFC 7692 §7.1.1, §7.1.2); it must echo
        // what the client asked of it; it may only limit the client's window when the client said it can be limited.
        serverNoContext |= !settings.ServerContextTakeover;
        clientNoContext |= !settings.ClientContextTakeover;
        int serverBits = serverBitsOffered > 0 ? Math.Min(serverBitsOffered, settings.ServerMaxWindowBits) : settings.ServerMaxWindowBits;
        int clientBits = clientBitsOffered ? Math.Min(clientBitsHint, settings.ClientMaxWindowBits) : 15;

        var response = new StringBuilder(ExtensionName);
        if (serverNoContext) response.Append("; server_no_context_takeover");
        if (clientNoContext) response.Append("; client_no_context_takeover");
        if (serverBitsOffered > 0 || serverBits < 15) response.Append("; server_max_window_bits=").Append(serverBits);
        if (clientBitsOffered && (clientBits < 15 || clientBitsHint < 15)) response.Append("; client_max_window_bits=").Append(clientBits);
        var parameters = new PerMessageDeflateParameters(serverNoContext, clientNoContext, serverBits, clientBits, response.ToString());
        return Agreed.GetOrAdd(parameters, parameters);
    }

    // Every connection keeps its agreed parameters for life: connections that agreed the same share one instance (and one
    // answer string) instead of holding a copy each. Bounded: the values are 2 × 2 × 7 × 8 combinations, and the answer
    // is a function of them and of which window parameters the client offered.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<PerMessageDeflateParameters, PerMessageDeflateParameters> Agreed = new();

    private static PerMessageDeflateParameters? Decline(out string? declined, string reason)
    {
        declined = reason;
        return null;
    }

    // RFC 7692 §7.1.2: 1*DIGIT without leading zeros, 8 to 15.
    private static bool TryWindowBits(string? value, out int bits)
    {
        bits = 0;
        if (value is null || value.Length is 0 or > 2 || value[0] == '0') return false;
        foreach (char c in value) if (c is < '0' or > '9') return false;
        bits = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        return bits is >= 8 and <= 15;
    }

    // RFC 6455 §9.1: a value may be a quoted-string whose unescaped content is a token.
    private static string? Unquote(string value)
    {
        if (value.Length < 2 || value[0] != '"' || value[^1] != '"') return value;
        var sb = new StringBuilder(value.Length);
        for (int i = 1; i < value.Length - 1; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length - 1) i++;
            sb.Append(value[i]);
        }
        return sb.ToString();
    }

    /// <summary>Splits on <paramref name="separator"/> outside quoted strings, trimming spaces and tabs, dropping empty items.</summary>
    private static List<string> Split(string value, char separator)
    {
        var items = new List<string>();
        bool quoted = false;
        int start = 0;
        for (int i = 0; i <= value.Length; i++)
        {
            if (i < value.Length)
            {
                char c = value[i];
                if (c == '\\' && quoted) { i++; continue; }
                if (c == '"') quoted = !quoted;
                if (c != separator || quoted) continue;
            }
            var item = value[start..i].Trim(' ', '\t');
            if (item.Length > 0) items.Add(item);
            start = i + 1;
        }
        return items;
    }
}
