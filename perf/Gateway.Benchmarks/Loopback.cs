using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.Benchmarks;

/// <summary>A blocking WebSocket client over loopback with hand-built masked frames: allocates nothing per message.</summary>
internal static class Loopback
{
    public static Socket Open(IPEndPoint ep, string path)
    {
        var s = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        s.Connect(ep);
        s.Send(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        var head = new byte[1024];
        int n = 0;
        while (n < 4 || !head.AsSpan(0, n).EndsWith("\r\n\r\n"u8)) n += s.Receive(head, n, 1, SocketFlags.None);
        if (!Encoding.ASCII.GetString(head, 0, n).StartsWith("HTTP/1.1 101")) throw new InvalidOperationException("upgrade failed");
        return s;
    }

    public static byte[] Masked(string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        var key = new byte[] { 0x12, 0x34, 0x56, 0x78 };
        int header = payload.Length <= 125 ? 2 : 4;
        var frame = new byte[header + 4 + payload.Length];
        frame[0] = 0x81;
        if (header == 2) frame[1] = (byte)(0x80 | payload.Length);
        else { frame[1] = 0x80 | 126; BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length); }
        key.CopyTo(frame, header);
        for (int i = 0; i < payload.Length; i++) frame[header + 4 + i] = (byte)(payload[i] ^ key[i & 3]);
        return frame;
    }

    /// <summary>Sends one frame and reads one whole server frame into <paramref name="receive"/>; returns its payload length.</summary>
    public static int RoundTrip(Socket socket, byte[] frame, byte[] receive)
    {
        socket.Send(frame);
        return ReadFrame(socket, receive);
    }

    public static int ReadFrame(Socket socket, byte[] receive)
    {
        int got = 0;
        while (true)
        {
            got += socket.Receive(receive, got, receive.Length - got, SocketFlags.None);
            if (got >= 2)
            {
                int len = receive[1] & 0x7F, header = 2;
                if (len == 126) { if (got < 4) continue; len = BinaryPrimitives.ReadUInt16BigEndian(receive.AsSpan(2)); header = 4; }
                if (got >= header + len) return len;
            }
        }
    }

    /// <summary>A round trip whose reply must be exactly <paramref name="expected"/>.</summary>
    public static void Check(Socket socket, byte[] frame, string expected, byte[] receive)
    {
        int len = RoundTrip(socket, frame, receive);
        int header = len > 125 ? 4 : 2;
        string reply = Encoding.UTF8.GetString(receive, header, len);
        if (reply != expected) throw new InvalidOperationException($"unexpected reply {reply}, expected {expected}");
    }
}
