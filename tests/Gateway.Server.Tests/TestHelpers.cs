using System.Net.WebSockets;
using System.Text;

namespace Gateway.Server.Tests;

internal static class TestHelpers
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);


    /// <summary>Random bytes from a fixed seed (reproducible runs).</summary>
    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// Valid UTF-8 of exactly <paramref name="length"/> bytes mixing 1-, 2-, 3- and 4-byte characters
    /// (no surrogates, nothing above U+10FFFF), from a fixed seed.
    /// </summary>
    public static byte[] RandomUtf8(int length, int seed)
    {
        var rng = new Random(seed);
        var bytes = new byte[length];
        int pos = 0;
        Span<char> chars = stackalloc char[2];
        while (pos < length)
        {
            int room = length - pos;
            int kind = rng.Next(4);
            int cp = kind switch
            {
                0 => rng.Next(0x20, 0x7F),                 // 1 byte
                1 => rng.Next(0x80, 0x800),                // 2 bytes
                2 => rng.Next(0x800, 0xD800),              // 3 bytes (below the surrogates)
                _ => rng.Next(0x10000, 0x110000),          // 4 bytes
            };
            var rune = new Rune(cp);
            if (rune.Utf8SequenceLength > room) rune = new Rune(rng.Next(0x20, 0x7F)); // pad the end with ASCII
            pos += rune.EncodeToUtf8(bytes.AsSpan(pos));
        }
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new InvalidOperationException("generator produced invalid UTF-8");
        return bytes;
    }

    /// <summary>Receives one whole message (all frames up to EndOfMessage) within the timeout.</summary>
    public static async Task<(WebSocketMessageType Type, byte[] Payload)> ReceiveMessageAsync(WebSocket ws, TimeSpan? timeout = null, int initialCapacity = 4096)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var buffer = new byte[Math.Max(initialCapacity, 16)];
        int length = 0;
        while (true)
        {
            if (length == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
            var result = await ws.ReceiveAsync(buffer.AsMemory(length), cts.Token);
            length += result.Count;
            if (result.MessageType == WebSocketMessageType.Close) return (WebSocketMessageType.Close, buffer[..length]);
            if (result.EndOfMessage) return (result.MessageType, buffer[..length]);
        }
    }

    public static async Task<ClientWebSocket> ConnectAsync(Uri uri, Action<ClientWebSocketOptions>? configure = null, TimeSpan? timeout = null)
    {
        var ws = new ClientWebSocket();
        configure?.Invoke(ws.Options);
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        await ws.ConnectAsync(uri, cts.Token);
        return ws;
    }
}
