using Gateway.Protocol.Compression;

namespace Gateway.Server.Options;

/// <summary>
/// Gateway:Compression: permessage-deflate (RFC 7692) for clients that offer it. The defaults keep memory flat: no
/// context takeover either way, so a connection holds deflate state only while a message is being compressed or
/// inflated, and a publish is compressed once for all its subscribers. Documented in docs/configuration.md.
/// </summary>
public sealed class CompressionOptions
{
    /// <summary>Accept permessage-deflate when a client offers it.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>Messages with a payload under this many bytes go out uncompressed (compressing them costs more CPU than it saves bytes).</summary>
    public int MinMessageBytes { get; set; } = 256;
    /// <summary>zlib compression level, 1 (fastest) to 9 (smallest).</summary>
    public int Level { get; set; } = 1;
    /// <summary>Keep the server's compression history between a connection's messages (better ratio; about 240 KiB of native memory per connection that received a compressed message, and no compress-once fan-out).</summary>
    public bool ServerContextTakeover { get; set; }
    /// <summary>Let clients keep their compression history between messages (better ratio for what clients send; one inflater of 2^ClientMaxWindowBits + about 7 KiB per connection for its whole life).</summary>
    public bool ClientContextTakeover { get; set; }
    /// <summary>Largest LZ77 window the server compresses with (9 to 15 bits).</summary>
    public int ServerMaxWindowBits { get; set; } = 15;
    /// <summary>Largest window asked of clients that offer client_max_window_bits (9 to 15 bits).</summary>
    public int ClientMaxWindowBits { get; set; } = 15;

    internal PerMessageDeflateSettings ToSettings() => new()
    {
        MinMessageBytes = MinMessageBytes,
        Level = Level,
        ServerContextTakeover = ServerContextTakeover,
        ClientContextTakeover = ClientContextTakeover,
        ServerMaxWindowBits = ServerMaxWindowBits,
        ClientMaxWindowBits = ClientMaxWindowBits,
    };

    internal static void Collect(CompressionOptions o, List<string> errors)
    {
        const string S = GatewayOptions.SectionName + ":Compression";
        GatewayOptionsValidator.Range(errors, $"{S}:MinMessageBytes", o.MinMessageBytes, 0, 1 << 30);
        GatewayOptionsValidator.Range(errors, $"{S}:Level", o.Level, 1, 9);
        // zlib cannot write raw deflate with an 8-bit window, so the server never promises one.
        GatewayOptionsValidator.Range(errors, $"{S}:ServerMaxWindowBits", o.ServerMaxWindowBits, 9, 15);
        GatewayOptionsValidator.Range(errors, $"{S}:ClientMaxWindowBits", o.ClientMaxWindowBits, 9, 15);
    }
}
