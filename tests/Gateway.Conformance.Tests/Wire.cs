using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Gateway.Server.Options;
using Gateway.Tests.Shared;

namespace Gateway.Conformance.Tests;

/// <summary>Byte builders and assertions shared by the conformance tests.</summary>
internal static class Wire
{
    /// <summary>How long a "must happen now" reaction (fail-fast, close) may take.</summary>
    public static readonly TimeSpan Short = TimeSpan.FromSeconds(3);
    /// <summary>Upper bound for ordinary replies.</summary>
    public static readonly TimeSpan Normal = TimeSpan.FromSeconds(5);

    public const byte Continuation = 0, Text = 1, Binary = 2, Close = 8, Ping = 9, Pong = 10;

    /// <summary>"C3 A9" → { 0xC3, 0xA9 }; empty string → empty array.</summary>
    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    public static byte[] Concat(params byte[][] parts)
    {
        var result = new byte[parts.Sum(p => p.Length)];
        int pos = 0;
        foreach (var p in parts) { p.CopyTo(result, pos); pos += p.Length; }
        return result;
    }

    /// <summary>A deterministic payload: printable ASCII for text, every byte value for binary.</summary>
    public static byte[] Payload(byte opcode, int size, int seed = 0)
    {
        var data = new byte[size];
        if (opcode == Text)
        {
            for (int i = 0; i < size; i++) data[i] = (byte)(' ' + (i * 7 + seed) % 95);
        }
        else
        {
            var rng = new Random(size * 31 + seed);
            rng.NextBytes(data);
        }
        return data;
    }

    /// <summary>
    /// A client frame header that declares <paramref name="declaredLength"/> payload bytes (whatever is
    /// sent after it); the payload must be masked with <see cref="Mask"/> and the same key.
    /// </summary>
    public static byte[] Header(byte opcode, ulong declaredLength, bool fin = true, int lengthBytes = 0, uint maskKey = 0x5A3C96F1, byte rsv = 0, bool mask = true)
    {
        var h = new List<byte> { (byte)((fin ? 0x80 : 0) | (rsv << 4) | (opcode & 0x0F)) };
        byte m = mask ? (byte)0x80 : (byte)0;
        if (lengthBytes == 0) lengthBytes = declaredLength <= 125 ? 1 : declaredLength <= 65535 ? 2 : 8;
        if (lengthBytes == 1) h.Add((byte)(m | (byte)declaredLength));
        else if (lengthBytes == 2) { h.Add((byte)(m | 126)); h.Add((byte)(declaredLength >> 8)); h.Add((byte)declaredLength); }
        else { h.Add((byte)(m | 127)); for (int i = 7; i >= 0; i--) h.Add((byte)(declaredLength >> (8 * i))); }
        if (mask)
        {
            var key = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(key, maskKey);
            h.AddRange(key);
        }
        return h.ToArray();
    }

    /// <summary>Masks (or unmasks) <paramref name="payload"/> as bytes <paramref name="offset"/>.. of a frame masked with <paramref name="maskKey"/>.</summary>
    public static byte[] Mask(ReadOnlySpan<byte> payload, uint maskKey = 0x5A3C96F1, long offset = 0)
    {
        var key = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(key, maskKey);
        var result = payload.ToArray();
        for (int i = 0; i < result.Length; i++) result[i] ^= key[(offset + i) & 3];
        return result;
    }

    public static void AssertBytes(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, string what = "payload")
    {
        if (expected.Length != actual.Length)
            Assert.Fail($"{what}: expected {expected.Length} bytes, got {actual.Length}");
        int diff = expected.CommonPrefixLength(actual);
        if (diff < expected.Length)
            Assert.Fail($"{what}: first difference at byte {diff}: expected 0x{expected[diff]:X2}, got 0x{actual[diff]:X2}");
    }

    /// <summary>A server data/control frame: FIN set, no RSV bits, unmasked, the given opcode and exact payload.</summary>
    public static void AssertFrame(RawFrame f, byte opcode, ReadOnlySpan<byte> payload)
    {
        Assert.Equal(opcode, f.Opcode);
        Assert.True(f.Fin, "server frames must have FIN set");
        Assert.Equal(0, f.Rsv);
        Assert.False(f.Masked, "server frames must not be masked");
        AssertBytes(payload, f.Payload);
    }

    public static async Task ExpectFrameAsync(RawClient c, byte opcode, byte[] payload, TimeSpan? timeout = null)
        => AssertFrame(await c.ReadFrameAsync(timeout ?? Normal), opcode, payload);

    public static Task ExpectEchoAsync(RawClient c, byte opcode, byte[] payload) => ExpectFrameAsync(c, opcode, payload);

    /// <summary>Sends one masked data message and checks the echo.</summary>
    public static async Task RoundTripAsync(RawClient c, byte opcode, byte[] payload)
    {
        await c.SendAsync(RawClient.Frame(opcode, payload));
        await ExpectEchoAsync(c, opcode, payload);
    }

    /// <summary>
    /// The next thing the server sends must be a well-formed close frame with <paramref name="expectedCode"/>
    /// (0 = no status code) followed by the end of the TCP connection. No data frame may come first.
    /// </summary>
    public static async Task<RawFrame> ExpectCloseAsync(RawClient c, int expectedCode, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Normal);
        RawFrame? f;
        try { f = await c.TryReadFrameAsync(deadline - DateTime.UtcNow); }
        catch (TimeoutException) { Assert.Fail($"expected close {expectedCode}: nothing came back within {(timeout ?? Normal).TotalSeconds} s"); throw; }
        if (f is null) Assert.Fail($"expected close {expectedCode}: the server dropped TCP without a close frame (-1)");
        var frame = f!.Value;
        if (frame.Opcode != Close)
            Assert.Fail($"expected close {expectedCode}: got a frame with opcode {frame.Opcode} and {frame.Payload.Length} payload bytes first");
        Assert.True(frame.Fin, "close frame must have FIN");
        Assert.Equal(0, frame.Rsv);
        Assert.False(frame.Masked, "server frames must not be masked");
        Assert.True(frame.Payload.Length <= 125, "control frame payload over 125 bytes");
        Assert.NotEqual(1, frame.Payload.Length);
        int code = frame.Payload.Length >= 2 ? frame.CloseCode : 0;
        Assert.Equal(expectedCode, code);
        if (frame.Payload.Length > 2)
            Assert.True(System.Text.Unicode.Utf8.IsValid(frame.Payload.AsSpan(2)), "server close reason is not valid UTF-8");
        Assert.True(await EndsAsync(c, deadline - DateTime.UtcNow), "the server did not close TCP after its close frame");
        return frame;
    }

    /// <summary>True when the server closes TCP within the timeout (unlike RawClient.WaitForEndAsync, never throws on timeout).</summary>
    public static async Task<bool> EndsAsync(RawClient c, TimeSpan timeout)
    {
        if (timeout < TimeSpan.FromMilliseconds(100)) timeout = TimeSpan.FromMilliseconds(100);
        try { return await c.WaitForEndAsync(timeout); }
        catch (TimeoutException) { return false; }
    }

    /// <summary>An open client still echoes.</summary>
    public static async Task AssertStillEchoesAsync(RawClient c, string text = "still alive")
    {
        await RoundTripAsync(c, Text, Utf8(text));
    }

    /// <summary>A new client can connect, echo and close normally.</summary>
    public static async Task AssertServerHealthyAsync(TestGateway gw)
    {
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await AssertStillEchoesAsync(c, "fresh client");
        await c.SendAsync(RawClient.CloseFrame(1000, "done"));
        await ExpectCloseAsync(c, 1000);
    }

    /// <summary>
    /// The shape of every protocol-violation case: a bystander client is connected, the offending client does
    /// <paramref name="act"/> and must get close <paramref name="expectedCode"/> and TCP closed; afterwards the
    /// bystander and a brand-new client still work.
    /// </summary>
    public static async Task ExpectFailureAsync(Func<RawClient, Task> act, int expectedCode, Action<GatewayOptions>? configure = null, TimeSpan? timeout = null)
    {
        await using var gw = await TestGateway.StartAsync(configure);
        await using var bystander = await RawClient.OpenAsync(gw.EndPoint);
        await using (var bad = await RawClient.OpenAsync(gw.EndPoint))
        {
            await act(bad);
            await ExpectCloseAsync(bad, expectedCode, timeout);
        }
        await AssertStillEchoesAsync(bystander);
        await AssertServerHealthyAsync(gw);
    }

    /// <summary>Sends <paramref name="bytes"/> in separate writes of at most <paramref name="chunk"/> bytes.</summary>
    public static async Task SendInPiecesAsync(RawClient c, byte[] bytes, int chunk)
    {
        for (int i = 0; i < bytes.Length; i += chunk)
            await c.SendAsync(bytes.AsMemory(i, Math.Min(chunk, bytes.Length - i)));
    }

    public static byte[] CloseFrame(ushort code, byte[] reason)
    {
        var payload = new byte[2 + reason.Length];
        BinaryPrimitives.WriteUInt16BigEndian(payload, code);
        reason.CopyTo(payload, 2);
        return RawClient.Frame(Close, payload);
    }

    /// <summary>Reads until the server closes TCP and returns every byte received (no timeout exception: partial data on timeout).</summary>
    public static async Task<(byte[] Data, bool Ended)> DrainAsync(Socket socket, TimeSpan timeout)
    {
        var received = new List<byte>();
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0) return (received.ToArray(), true);
                received.AddRange(buffer.AsSpan(0, n).ToArray());
            }
        }
        catch (OperationCanceledException) { return (received.ToArray(), false); }
        catch (SocketException) { return (received.ToArray(), true); }
    }
}
