using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gateway.Tests.Shared;

namespace Gateway.Policy.Tests;

/// <summary>The server closed the WebSocket (close frame) or the TCP connection while a message was expected.</summary>
public sealed class ServerClosedException(int code, string reason)
    : IOException($"server closed the connection ({(code < 0 ? "TCP end without a close frame" : $"close {code} '{reason}'")})")
{
    public int Code { get; } = code;
    public string Reason { get; } = reason;
}

/// <summary>Envelope helpers over <see cref="RawClient"/>: build requests, read replies, bounded waits.</summary>
public static class Wire
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>A request envelope; <paramref name="id"/> is written as a JSON string (string) or number (int/long).</summary>
    public static string Request(object id, string path, string? inputJson = null)
    {
        string idJson = id is string s ? JsonSerializer.Serialize(s) : Convert.ToString(id, System.Globalization.CultureInfo.InvariantCulture)!;
        return inputJson is null
            ? $"{{\"id\":{idJson},\"path\":\"{path}\"}}"
            : $"{{\"id\":{idJson},\"path\":\"{path}\",\"input\":{inputJson}}}";
    }

    public static byte[] TextFrame(string text) => RawClient.Frame(1, Encoding.UTF8.GetBytes(text));

    public static byte[] RequestFrame(object id, string path, string? inputJson = null) => TextFrame(Request(id, path, inputJson));

    public static Task SendRequestAsync(this RawClient client, object id, string path, string? inputJson = null)
        => client.SendAsync(RequestFrame(id, path, inputJson));

    /// <summary>Many frames in one buffer, written with one send (pipelining).</summary>
    public static byte[] Concat(IEnumerable<byte[]> frames)
    {
        using var ms = new MemoryStream();
        foreach (var f in frames) ms.Write(f);
        return ms.ToArray();
    }

    public static JsonElement Parse(byte[] payload)
    {
        using var doc = JsonDocument.Parse(payload);
        return doc.RootElement.Clone();
    }

    /// <summary>The id of a reply as text: a string id unquoted, a number as written.</summary>
    public static string? IdOf(JsonElement message) =>
        !message.TryGetProperty("id", out var id) ? null : id.ValueKind == JsonValueKind.String ? id.GetString() : id.GetRawText();

    public static bool IsTerminal(JsonElement m) =>
        m.TryGetProperty("result", out _) || m.TryGetProperty("error", out _) || (m.TryGetProperty("done", out var d) && d.ValueKind == JsonValueKind.True);

    public static string? ErrorCode(JsonElement m) =>
        m.TryGetProperty("error", out var e) && e.TryGetProperty("code", out var c) ? c.GetString() : null;

    /// <summary>Reads the next text message; answers pings (unless told not to) and skips pongs. Throws <see cref="ServerClosedException"/> on a close.</summary>
    public static async Task<JsonElement> ReadMessageAsync(this RawClient client, TimeSpan? timeout = null, bool answerPings = true)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (true)
        {
            var f = await client.TryReadFrameAsync(deadline - DateTime.UtcNow);
            if (f is null) throw new ServerClosedException(-1, "");
            var frame = f.Value;
            switch (frame.Opcode)
            {
                case 1:
                    return Parse(frame.Payload);
                case 8:
                    throw new ServerClosedException(frame.CloseCode, frame.Payload.Length > 2 ? Encoding.UTF8.GetString(frame.Payload, 2, frame.Payload.Length - 2) : "");
                case 9:
                    if (answerPings) await client.SendFrameAsync(10, frame.Payload);
                    break;
                case 10:
                    break;
                default:
                    throw new InvalidDataException($"unexpected frame opcode {frame.Opcode}");
            }
        }
    }

    /// <summary>Reads until the terminal reply for <paramref name="id"/>; other messages are passed to <paramref name="other"/> (or dropped).</summary>
    public static async Task<JsonElement> ReadReplyAsync(this RawClient client, string id, TimeSpan? timeout = null, Action<JsonElement>? other = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (true)
        {
            var m = await client.ReadMessageAsync(deadline - DateTime.UtcNow);
            if (IdOf(m) == id && IsTerminal(m)) return m;
            other?.Invoke(m);
        }
    }

    public static async Task<JsonElement> CallAsync(this RawClient client, string id, string path, string? inputJson = null, TimeSpan? timeout = null)
    {
        await client.SendRequestAsync(id, path, inputJson);
        return await client.ReadReplyAsync(id, timeout);
    }

    /// <summary>
    /// Reads frames until the close frame, answers it (a well-behaved end of the closing handshake) and waits for
    /// the TCP end. Returns every text message before the close, the close code (-1: TCP ended without a close
    /// frame) and its reason; <c>AfterClose</c> counts frames that arrived after the close frame (must be 0).
    /// </summary>
    public static async Task<(List<JsonElement> Messages, int Code, string Reason, int AfterClose)> ReadUntilCloseAsync(this RawClient client, TimeSpan? timeout = null, bool answerClose = true)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        var messages = new List<JsonElement>();
        while (true)
        {
            var f = await client.TryReadFrameAsync(deadline - DateTime.UtcNow);
            if (f is null) return (messages, -1, "", 0);
            var frame = f.Value;
            if (frame.Opcode == 1) messages.Add(Parse(frame.Payload));
            else if (frame.Opcode == 8)
            {
                string reason = frame.Payload.Length > 2 ? Encoding.UTF8.GetString(frame.Payload, 2, frame.Payload.Length - 2) : "";
                if (answerClose)
                {
                    try { await client.SendAsync(RawClient.CloseFrame(frame.Payload.Length >= 2 ? frame.CloseCode : (ushort)1000)); }
                    catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException) { }
                }
                int after = 0;
                while (true)
                {
                    RawFrame? next;
                    try { next = await client.TryReadFrameAsync(deadline - DateTime.UtcNow); }
                    catch (TimeoutException) { break; }
                    if (next is null) break;
                    after++;
                }
                return (messages, frame.Payload.Length >= 2 ? frame.CloseCode : 0, reason, after);
            }
        }
    }


    /// <summary>The server's end of <paramref name="client"/>'s connection (matched by the client's local endpoint).</summary>
    internal static Gateway.Server.Transport.SocketConnection ServerSide(PolicyGateway gw, RawClient client)
    {
        var local = (IPEndPoint)client.Socket.LocalEndPoint!;
        return gw.Server.Connections.Select(c => c.Transport).Single(t => local.Equals(t.RemoteEndPoint));
    }

    /// <summary>
    /// While the client does not read, waits (bounded, 10 s by default) until the server has stopped reading its socket
    /// because the connection's input pipe is full: the push-back itself, seen on the server's side, which a writer
    /// that is merely slow never causes. False when it never happened.
    /// </summary>
    public static Task<bool> WaitForServerToStopReadingAsync(PolicyGateway gw, RawClient client, TimeSpan? timeout = null)
    {
        var server = ServerSide(gw, client);
        return Waits.WaitUntilAsync(() => server.IsReceivePaused, timeout ?? TimeSpan.FromSeconds(10));
    }

    /// <summary>Managed heap after a full, compacting collection (what the server process holds, the test's own data included).</summary>
    public static long HeapAfterGc()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>
    /// Connects from a chosen local address (e.g. 127.0.0.2, a different client IP on loopback), sends a valid
    /// upgrade request and returns the socket with the HTTP status and head.
    /// </summary>
    public static async Task<(Socket Socket, int Status, string Head)> UpgradeFromAsync(IPAddress local, IPEndPoint server, string path)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Bind(new IPEndPoint(local, 0));
        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(server, cts.Token);
        await socket.SendAsync(Encoding.ASCII.GetBytes(RawClient.UpgradeRequest(path)), SocketFlags.None, cts.Token);
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            int n = await socket.ReceiveAsync(one, SocketFlags.None, cts.Token);
            if (n == 0) throw new IOException("connection closed during the handshake");
            head.Add(one[0]);
        }
        string text = Encoding.ASCII.GetString(head.ToArray());
        return (socket, int.Parse(text.AsSpan(9, 3)), text);
    }

    /// <summary>Reads one unmasked, unfragmented server frame with a 7- or 16-bit length from a plain socket.</summary>
    public static async Task<(byte Opcode, byte[] Payload)> ReadServerFrameAsync(Socket socket)
    {
        using var cts = new CancellationTokenSource(Timeout);
        async Task<byte[]> ReadExactly(int n)
        {
            var buf = new byte[n];
            int got = 0;
            while (got < n)
            {
                int r = await socket.ReceiveAsync(buf.AsMemory(got), SocketFlags.None, cts.Token);
                if (r == 0) throw new IOException("connection closed mid-frame");
                got += r;
            }
            return buf;
        }
        var h = await ReadExactly(2);
        int len = h[1] & 0x7F;
        if (len == 126) { var ext = await ReadExactly(2); len = (ext[0] << 8) | ext[1]; }
        else if (len == 127) throw new InvalidDataException("64-bit length not expected here");
        return ((byte)(h[0] & 0x0F), await ReadExactly(len));
    }
}
