using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using Gateway.Server;
using Gateway.Server.Options;
using Gateway.Server.Rpc;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

public sealed class BenchMsg
{
    public string? Text { get; set; }
}

public struct Pair
{
    public int A { get; set; }
    public int B { get; set; }
}

[RpcService("bench")]
public sealed class BenchService
{
    /// <summary>The sample's echo/echo shape: a class input with a string, returned unchanged.</summary>
    [Rpc("echo")]
    public ValueTask<BenchMsg> Echo(BenchMsg input, RpcContext context) => new(input);

    /// <summary>Struct in, int out: what the dispatcher itself costs when the handler's types allocate nothing.</summary>
    [Rpc("add")]
    public int Add(Pair input, RpcContext context) => input.A + input.B;
}

/// <summary>
/// One request/response over loopback through the whole server: frame parse and unmask, envelope parse,
/// route lookup, input deserialization, handler, reply serialization, outbox, socket. The client is a
/// blocking socket with pre-built frames and a fixed receive buffer, so what the memory diagnoser counts
/// (process-wide) is the server's allocation per call. Baseline: the echo endpoint, i.e. the transport alone.
/// </summary>
[MemoryDiagnoser]
public class RpcRoundTripBenchmarks
{
    private GatewayServer _server = null!;
    private Socket _echo = null!, _rpc = null!;
    private byte[] _echoFrame = null!, _rpcEchoFrame = null!, _rpcAddFrame = null!;
    private readonly byte[] _receive = new byte[64 * 1024];

    [GlobalSetup]
    public void Setup()
    {
        var json = new JsonOptions().ToSerializerOptions();
        var procedures = typeof(BenchService).GetMethods()
            .Where(m => m.GetCustomAttributes(typeof(ProcedureAttribute), false).Length > 0)
            .Select(m => ProcedureDescriptor.Analyze("bench", typeof(BenchService), "bench", m,
                (ProcedureAttribute)m.GetCustomAttributes(typeof(ProcedureAttribute), false)[0], json).Bind(new BenchService(), json))
            .ToList();
        var rpc = new RpcApplication(procedures, json, maxInflight: 256, maxBadMessages: 10, NullLogger.Instance);
        var options = new GatewayOptions { Listen = ["127.0.0.1:0"], EchoPath = "/echo" };
        _server = new GatewayServer(options, new Dictionary<string, IWebSocketApplication> { ["/ws"] = rpc, ["/echo"] = new EchoApplication() });
        _server.StartAsync().GetAwaiter().GetResult();
        var ep = _server.BoundEndPoints[0];
        _echo = Open(ep, "/echo");
        _rpc = Open(ep, "/ws");

        // 64-byte input: {"text":"..."} padded to 64 bytes.
        string input = "{\"text\":\"" + new string('x', 64 - 11) + "\"}";
        _rpcEchoFrame = Masked("{\"id\":1,\"path\":\"bench/echo\",\"input\":" + input + "}");
        _rpcAddFrame = Masked("{\"id\":1,\"path\":\"bench/add\",\"input\":{\"a\":20,\"b\":22}}");
        _echoFrame = Masked("{\"id\":1,\"path\":\"bench/echo\",\"input\":" + input + "}");
        // Warm every path once and check the replies are what a client expects.
        Check(_rpc, _rpcEchoFrame, "{\"id\":1,\"result\":" + input + "}");
        Check(_rpc, _rpcAddFrame, "{\"id\":1,\"result\":42}");
        Check(_echo, _echoFrame, "{\"id\":1,\"path\":\"bench/echo\",\"input\":" + input + "}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _echo.Dispose();
        _rpc.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "transport echo (no RPC)")]
    public int TransportEcho() => RoundTrip(_echo, _echoFrame);

    [Benchmark(Description = "echo/echo, 64 B input")]
    public int RpcEcho() => RoundTrip(_rpc, _rpcEchoFrame);

    [Benchmark(Description = "bench/add, struct in/int out")]
    public int RpcAdd() => RoundTrip(_rpc, _rpcAddFrame);

    private int RoundTrip(Socket socket, byte[] frame)
    {
        socket.Send(frame);
        int got = 0;
        while (true)
        {
            got += socket.Receive(_receive, got, _receive.Length - got, SocketFlags.None);
            if (got >= 2)
            {
                int len = _receive[1] & 0x7F, header = 2;
                if (len == 126) { if (got < 4) continue; len = BinaryPrimitives.ReadUInt16BigEndian(_receive.AsSpan(2)); header = 4; }
                if (got >= header + len) return len;
            }
        }
    }

    private void Check(Socket socket, byte[] frame, string expected)
    {
        int len = RoundTrip(socket, frame);
        int header = len > 125 ? 4 : 2;
        string reply = Encoding.UTF8.GetString(_receive, header, len);
        if (reply != expected) throw new InvalidOperationException($"unexpected reply {reply}, expected {expected}");
    }

    private static Socket Open(IPEndPoint ep, string path)
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

    private static byte[] Masked(string text)
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
}
