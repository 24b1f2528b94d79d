using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Gateway.Tests.Shared;

namespace Gateway.Conformance.Tests;

/// <summary>
/// The client half of permessage-deflate for the raw conformance client, built on .NET's DeflateStream (an
/// independent zlib user): opening a connection with an offer, compressing as RFC 7692 says (sync flush, trailer
/// removed), and inflating what the server sends.
/// </summary>
internal static class DeflateWire
{
    public const byte Rsv1 = 4;
    private static readonly byte[] Trailer = [0x00, 0x00, 0xFF, 0xFF];

    /// <summary>Upgrades with <paramref name="offer"/> in Sec-WebSocket-Extensions; returns the client and the agreed extension (null when none).</summary>
    public static async Task<(RawClient Client, string? Extension)> OpenAsync(System.Net.IPEndPoint endPoint, string? offer, string? secondOffer = null)
    {
        var client = await RawClient.ConnectAsync(endPoint);
        string extra = (offer is null ? "" : $"Sec-WebSocket-Extensions: {offer}\r\n") + (secondOffer is null ? "" : $"Sec-WebSocket-Extensions: {secondOffer}\r\n");
        await client.SendAsync(RawClient.UpgradeRequest("/echo", extraHeaders: extra));
        var (status, head) = await client.ReadHttpHeadAsync();
        Assert.True(status == 101, $"upgrade answered {status}: {head}");
        return (client, ExtensionOf(head));
    }

    public static string? ExtensionOf(string head)
    {
        var m = Regex.Match(head, @"^Sec-WebSocket-Extensions: *(.*)$", RegexOptions.Multiline | RegexOptions.IgnoreCase);
        return m.Success ? m.Groups[1].Value.TrimEnd('\r') : null;
    }

    /// <summary>One message compressed on its own (no context), trailer removed.</summary>
    public static byte[] Compress(ReadOnlySpan<byte> data)
    {
        var compressor = new Compressor();
        return compressor.Next(data);
    }

    /// <summary>A client deflater that keeps its history between messages (context takeover).</summary>
    public sealed class Compressor
    {
        private readonly MemoryStream _output = new();
        private readonly DeflateStream _deflate;
        private long _position;

        public Compressor() => _deflate = new DeflateStream(_output, CompressionLevel.Optimal, leaveOpen: true);

        public byte[] Next(ReadOnlySpan<byte> data)
        {
            // zlib writes nothing for an empty flush after an empty input; an empty stored block (RFC 7692 §7.2.3.6) is one 0x00.
            if (data.IsEmpty && _position == 0) return [0x00];
            _deflate.Write(data);
            _deflate.Flush(); // Z_SYNC_FLUSH: ends with 00 00 FF FF
            var all = _output.GetBuffer().AsSpan((int)_position, (int)(_output.Length - _position)).ToArray();
            _position = _output.Length;
            Assert.True(all.AsSpan(all.Length - 4).SequenceEqual(Trailer), "sync flush did not end with 00 00 FF FF");
            return all[..^4];
        }
    }

    /// <summary>Inflates the payloads of compressed messages as one stream (what a client keeping the server's context does).</summary>
    public static byte[] Inflate(params byte[][] payloads)
    {
        var input = new MemoryStream();
        foreach (var p in payloads) { input.Write(p); input.Write(Trailer); }
        input.Position = 0;
        using var inflate = new DeflateStream(input, CompressionMode.Decompress);
        var output = new MemoryStream();
        inflate.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>A realistic JSON message of about <paramref name="size"/> bytes.</summary>
    public static byte[] Json(int size, int seed = 0)
    {
        var sb = new StringBuilder("{\"seq\":").Append(seed).Append(",\"items\":[");
        for (int i = 0; sb.Length < size - 120; i++)
            sb.Append(i == 0 ? "" : ",").Append("{\"id\":").Append(i).Append(",\"user\":\"user-").Append((i + seed) % 7)
              .Append("\",\"text\":\"the quick brown fox ").Append(i * 31 + seed).Append("\",\"tags\":[\"a\",\"b\"]}");
        sb.Append(']');
        // Exactly size bytes when size leaves room for the padding member.
        int pad = size - sb.Length - 10;
        if (pad >= 0) sb.Append(",\"pad\":\"").Append('x', pad).Append('"');
        return Encoding.UTF8.GetBytes(sb.Append('}').ToString());
    }
}
