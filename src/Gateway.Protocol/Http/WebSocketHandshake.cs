using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Protocol.Http;

/// <summary>Server side of the RFC 6455 §4.2 opening handshake.</summary>
public static class WebSocketHandshake
{
    public const string JsonSubprotocol = "gateway.v1.json";
    public const string MsgPackSubprotocol = "gateway.v1.msgpack";
    /// <summary>Prefix of the bearer-token pseudo-subprotocol (PROTOCOL.md); never echoed back.</summary>
    public const string BearerPrefix = "bearer.";
    private static ReadOnlySpan<byte> Guid => "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8;

    /// <summary>
    /// Checks a GET upgrade request against §4.2.1 and picks the first offered subprotocol that
    /// <paramref name="supported"/> names (offers starting with "bearer." are credentials, not protocols).
    /// </summary>
    public static UpgradeDecision Evaluate(HttpRequestHead request, IReadOnlyList<string> supported)
    {
        if (!request.IsGet) return Reject(400, "a WebSocket upgrade must use GET");
        if (request.VersionMinor < 1) return Reject(400, "a WebSocket upgrade requires HTTP/1.1");
        if (request.Count("Host"u8) != 1) return Reject(400, "exactly one Host header is required");
        if (!request.ContainsToken("Upgrade"u8, "websocket"u8)) return Reject(400, "missing 'Upgrade: websocket'");
        if (!request.ContainsToken("Connection"u8, "Upgrade"u8)) return Reject(400, "the Connection header must contain 'Upgrade'");

        int versions = request.Count("Sec-WebSocket-Version"u8);
        if (versions == 0) return Reject(400, "missing Sec-WebSocket-Version");
        request.TryGet("Sec-WebSocket-Version"u8, out var version);
        if (versions > 1 || !version.SequenceEqual("13"u8)) return Reject(426, "unsupported Sec-WebSocket-Version; this server speaks 13");

        if (request.Count("Sec-WebSocket-Key"u8) != 1 || !request.TryGet("Sec-WebSocket-Key"u8, out var key) || !IsValidKey(key))
            return Reject(400, "Sec-WebSocket-Key must be the base64 encoding of 16 bytes");

        string? chosen = null;
        bool offeredAny = false;
        for (int i = 0; i < request.HeaderCount && chosen is null; i++)
        {
            if (!Ascii.EqualsIgnoreCase(request.HeaderName(i), "Sec-WebSocket-Protocol"u8)) continue;
            var value = request.HeaderValue(i);
            foreach (var range in value.Split((byte)','))
            {
                var offer = value[range].Trim(" \t"u8);
                if (offer.IsEmpty || offer.StartsWith("bearer."u8)) continue;
                offeredAny = true;
                foreach (var name in supported)
                {
                    if (Ascii.Equals(offer, name)) { chosen = name; break; }
                }
                if (chosen is not null) break;
            }
        }
        if (offeredAny && chosen is null)
            return Reject(400, "none of the offered subprotocols is supported; use " + string.Join(" or ", supported));
        return new UpgradeDecision(101, chosen, null);
    }

    /// <summary>base64 of exactly 16 bytes: 24 characters ending in "==".</summary>
    public static bool IsValidKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != 24) return false;
        Span<byte> decoded = stackalloc byte[18];
        return Base64.DecodeFromUtf8(key, decoded, out int consumed, out int written) == OperationStatus.Done
               && consumed == 24 && written == 16;
    }

    /// <summary>Sec-WebSocket-Accept: base64(SHA-1(key + GUID)), 28 ASCII bytes.</summary>
    public static void ComputeAccept(ReadOnlySpan<byte> key, Span<byte> destination)
    {
        Span<byte> input = stackalloc byte[key.Length + Guid.Length];
        key.CopyTo(input);
        Guid.CopyTo(input.Slice(key.Length));
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(input, hash);
        Base64.EncodeToUtf8(hash, destination, out _, out _);
    }

    /// <param name="extensions">The Sec-WebSocket-Extensions answer (permessage-deflate), or null.</param>
    public static void WriteAccept(IBufferWriter<byte> output, HttpRequestHead request, string? subprotocol, string? extensions = null)
    {
        request.TryGet("Sec-WebSocket-Key"u8, out var key);
        Span<byte> accept = stackalloc byte[28];
        ComputeAccept(key, accept);
        var w = new HttpHeadWriter(output);
        w.Append("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "u8);
        w.Append(accept);
        w.Append("\r\n"u8);
        if (subprotocol is not null)
        {
            w.Append("Sec-WebSocket-Protocol: "u8);
            w.Append(subprotocol);
            w.Append("\r\n"u8);
        }
        if (extensions is not null)
        {
            w.Append("Sec-WebSocket-Extensions: "u8);
            w.Append(extensions);
            w.Append("\r\n"u8);
        }
        w.Append("\r\n"u8);
    }

    private static UpgradeDecision Reject(int status, string error) => new(status, null, error);
}
