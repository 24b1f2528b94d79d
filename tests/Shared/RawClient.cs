using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Tests.Shared;

/// <summary>A frame as the raw client read it from the server.</summary>
public readonly record struct RawFrame(bool Fin, byte Rsv, byte Opcode, bool Masked, byte[] Payload)
{
    public ushort CloseCode => Opcode == 8 && Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : (ushort)0;
    public string Text => Encoding.UTF8.GetString(Payload);
}

/// <summary>
/// A hand-rolled WebSocket client over a raw socket: it builds frames byte by byte (so it can break every rule
/// on purpose) and reads exactly what the server sends. Every wait has a timeout; nothing sleeps.
/// </summary>
public sealed class RawClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start, _end;

    private RawClient(Socket socket) => _socket = socket;

    public static async Task<RawClient> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint);
        return new RawClient(socket);
    }

    /// <summary>Connects and completes a valid upgrade on <paramref name="path"/>; throws unless the answer is 101.</summary>
    public static async Task<RawClient> OpenAsync(IPEndPoint endPoint, string path = "/echo", string? subprotocols = null)
    {
        var client = await ConnectAsync(endPoint);
        var (status, head) = await client.HandshakeAsync(path, subprotocols);
        if (status != 101) throw new InvalidOperationException($"upgrade failed: {head}");
        return client;
    }

    public Socket Socket => _socket;

    public static string UpgradeRequest(string path, string key = "dGhlIHNhbXBsZSBub25jZQ==", string? subprotocols = null, string? extraHeaders = null)
    {
        var sb = new StringBuilder();
        sb.Append("GET ").Append(path).Append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
        sb.Append("Sec-WebSocket-Key: ").Append(key).Append("\r\nSec-WebSocket-Version: 13\r\n");
        if (subprotocols is not null) sb.Append("Sec-WebSocket-Protocol: ").Append(subprotocols).Append("\r\n");
        if (extraHeaders is not null) sb.Append(extraHeaders);
        sb.Append("\r\n");
        return sb.ToString();
    }

    public async Task<(int Status, string Head)> HandshakeAsync(string path, string? subprotocols = null)
    {
        await SendAsync(Encoding.ASCII.GetBytes(UpgradeRequest(path, subprotocols: subprotocols)));
        return await ReadHttpHeadAsync();
    }

    public Task SendAsync(string ascii) => SendAsync(Encoding.ASCII.GetBytes(ascii));

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        using var cts = new CancellationTokenSource(DefaultTimeout);
        while (!bytes.IsEmpty)
        {
            int n = await _socket.SendAsync(bytes, SocketFlags.None, cts.Token);
            bytes = bytes.Slice(n);
        }
    }

    /// <summary>Reads an HTTP response head; returns its status code and the head text.</summary>
    public async Task<(int Status, string Head)> ReadHttpHeadAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            int idx = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (idx >= 0)
            {
                string head = Encoding.ASCII.GetString(_buffer, _start, idx);
                _start += idx + 4;
                int status = int.Parse(head.AsSpan(9, 3));
                return (status, head);
            }
            if (!await FillAsync(deadline - DateTime.UtcNow)) throw new IOException("connection closed before a full HTTP response head; got: " + Encoding.ASCII.GetString(_buffer, _start, _end - _start));
        }
    }

    /// <summary>Reads whatever follows the head until the server closes (an HTTP body).</summary>
    public async Task<string> ReadToEndAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        var sb = new StringBuilder();
        while (true)
        {
            sb.Append(Encoding.UTF8.GetString(_buffer, _start, _end - _start));
            _start = _end;
            if (!await FillAsync(deadline - DateTime.UtcNow)) return sb.ToString();
        }
    }

    public static byte[] Frame(byte opcode, ReadOnlySpan<byte> payload, bool fin = true, bool mask = true, byte rsv = 0, int forceLengthBytes = 0, uint? maskKey = null)
    {
        var header = new List<byte> { (byte)((fin ? 0x80 : 0) | (rsv << 4) | (opcode & 0x0F)) };
        long len = payload.Length;
        int lengthBytes = forceLengthBytes != 0 ? forceLengthBytes : len <= 125 ? 0 : len <= 65535 ? 2 : 8;
        byte maskBit = mask ? (byte)0x80 : (byte)0;
        if (lengthBytes == 0) header.Add((byte)(maskBit | len));
        else if (lengthBytes == 2) { header.Add((byte)(maskBit | 126)); header.Add((byte)(len >> 8)); header.Add((byte)len); }
        else { header.Add((byte)(maskBit | 127)); for (int i = 7; i >= 0; i--) header.Add((byte)(len >> (8 * i))); }
        var key = new byte[4];
        if (maskKey is { } k) BinaryPrimitives.WriteUInt32BigEndian(key, k); else RandomNumberGenerator.Fill(key);
        if (mask) header.AddRange(key);
        var frame = new byte[header.Count + payload.Length];
        header.CopyTo(frame);
        for (int i = 0; i < payload.Length; i++) frame[header.Count + i] = mask ? (byte)(payload[i] ^ key[i & 3]) : payload[i];
        return frame;
    }

    public static byte[] CloseFrame(ushort code, string reason = "")
    {
        var payload = new byte[2 + Encoding.UTF8.GetByteCount(reason)];
        BinaryPrimitives.WriteUInt16BigEndian(payload, code);
        Encoding.UTF8.GetBytes(reason, payload.AsSpan(2));
        return Frame(8, payload);
    }

    public Task SendFrameAsync(byte opcode, ReadOnlySpan<byte> payload, bool fin = true, bool mask = true, byte rsv = 0)
        => SendAsync(Frame(opcode, payload, fin, mask, rsv));

    public Task SendTextAsync(string text) => SendAsync(Frame(1, Encoding.UTF8.GetBytes(text)));

    /// <summary>Reads one frame; throws on timeout or on the connection ending first.</summary>
    public async Task<RawFrame> ReadFrameAsync(TimeSpan? timeout = null)
    {
        var f = await TryReadFrameAsync(timeout);
        return f ?? throw new IOException("connection closed while waiting for a frame");
    }

    /// <summary>Reads one frame, or null when the server closed the TCP connection.</summary>
    public async Task<RawFrame?> TryReadFrameAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        if (!await EnsureAsync(2, deadline)) return null;
        byte b0 = _buffer[_start], b1 = _buffer[_start + 1];
        int len7 = b1 & 0x7F;
        bool masked = (b1 & 0x80) != 0;
        int headerLen = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
        if (!await EnsureAsync(headerLen, deadline)) return null;
        long len = len7 == 126 ? BinaryPrimitives.ReadUInt16BigEndian(_buffer.AsSpan(_start + 2)) :
                   len7 == 127 ? (long)BinaryPrimitives.ReadUInt64BigEndian(_buffer.AsSpan(_start + 2)) : len7;
        _start += headerLen;
        var payload = new byte[len];
        int copied = 0;
        while (copied < len)
        {
            if (_end == _start && !await FillAsync(deadline - DateTime.UtcNow)) return null;
            int n = (int)Math.Min(len - copied, _end - _start);
            Buffer.BlockCopy(_buffer, _start, payload, copied, n);
            _start += n;
            copied += n;
        }
        return new RawFrame((b0 & 0x80) != 0, (byte)((b0 >> 4) & 7), (byte)(b0 & 0x0F), masked, payload);
    }

    /// <summary>
    /// Reads frames until the server's close frame and then the end of the TCP connection; returns the close
    /// code (0 for a close with no code, -1 when the server dropped TCP without a close frame).
    /// </summary>
    public async Task<int> ReadCloseAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var f = await TryReadFrameAsync(deadline - DateTime.UtcNow);
            if (f is null) return -1;
            if (f.Value.Opcode == 8)
            {
                int code = f.Value.Payload.Length >= 2 ? f.Value.CloseCode : 0;
                await WaitForEndAsync(deadline - DateTime.UtcNow);
                return code;
            }
        }
    }

    /// <summary>Waits until the server closes the TCP connection (discarding data); false on timeout.</summary>
    public async Task<bool> WaitForEndAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        try
        {
            while (true)
            {
                _start = _end = 0;
                if (!await FillAsync(deadline - DateTime.UtcNow)) return true;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException) { return false; }
    }

    private async Task<bool> EnsureAsync(int count, DateTime deadline)
    {
        while (_end - _start < count)
        {
            if (!await FillAsync(deadline - DateTime.UtcNow)) return false;
        }
        return true;
    }

    // False when the server closed (or reset) the connection.
    private async Task<bool> FillAsync(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero) throw new TimeoutException("timed out waiting for the server");
        // (WaitForEndAsync turns a timeout into false; every other reader lets it surface.)
        if (_start == _end) { _start = _end = 0; }
        else if (_end == _buffer.Length) { Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start); _end -= _start; _start = 0; }
        using var cts = new CancellationTokenSource(timeout);
        int n;
        try { n = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cts.Token); }
        catch (OperationCanceledException) { throw new TimeoutException("timed out waiting for the server"); }
        catch (SocketException) { return false; }
        if (n == 0) return false;
        _end += n;
        return true;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return default;
    }
}
