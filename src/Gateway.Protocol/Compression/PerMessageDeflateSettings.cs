namespace Gateway.Protocol.Compression;

/// <summary>What the server is willing to negotiate for permessage-deflate (RFC 7692); Gateway:Compression maps onto it.</summary>
public sealed record PerMessageDeflateSettings
{
    /// <summary>Messages whose payload is shorter than this go out uncompressed (RSV1 clear).</summary>
    public int MinMessageBytes { get; init; } = 256;
    /// <summary>zlib level 1 (fastest) to 9 (smallest).</summary>
    public int Level { get; init; } = 1;
    /// <summary>
    /// Whether the server keeps its compression history between the messages of a connection. Off, every message is
    /// compressed on its own by a pooled deflater and a publish is compressed once for all its subscribers; on, each
    /// connection owns a deflater (about 240 KiB of native memory) for its whole life.
    /// </summary>
    public bool ServerContextTakeover { get; init; }
    /// <summary>Whether clients may keep their compression history between messages (then the server keeps one inflater per connection).</summary>
    public bool ClientContextTakeover { get; init; }
    /// <summary>Largest LZ77 window the server compresses with, 9 to 15 bits.</summary>
    public int ServerMaxWindowBits { get; init; } = 15;
    /// <summary>Largest window the server asks clients that offer client_max_window_bits to compress with, 9 to 15 bits.</summary>
    public int ClientMaxWindowBits { get; init; } = 15;
}
