using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using Gateway.Server;
using Gateway.Server.Options;
using Gateway.Server.Rpc;
using Gateway.Server.WebSockets;
using MessagePack;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

/// <summary>
/// The RPC round trip of <see cref="RpcRoundTripBenchmarks"/> in both wire formats, side by side in one run: the same
/// server, the same procedures, one JSON and one gateway.v1.msgpack connection. bench/add (struct in, int out) is the
/// gateway's own path (envelope, dispatch, reply); bench/echo adds the handler's input object and its string.
/// </summary>
[MemoryDiagnoser]
public class MessagePackRoundTripBenchmarks
{
    private GatewayServer _server = null!;
    private Socket _json = null!, _msgpack = null!;
    private byte[] _jsonEcho = null!, _jsonAdd = null!, _packEcho = null!, _packAdd = null!;
    private readonly byte[] _receive = new byte[64 * 1024];

    [GlobalSetup]
    public void Setup()
    {
        var json = new JsonOptions().ToSerializerOptions();
        var rpc = new RpcApplication(BenchService.Procedures(json), json, maxInflight: 256, maxBadMessages: 10, NullLogger.Instance);
        var options = new GatewayOptions { Listen = ["127.0.0.1:0"] };
        _server = new GatewayServer(options, new Dictionary<string, IWebSocketApplication> { ["/ws"] = rpc });
        _server.StartAsync().GetAwaiter().GetResult();
        var ep = _server.BoundEndPoints[0];
        _json = Open(ep, "gateway.v1.json");
        _msgpack = Open(ep, "gateway.v1.msgpack");

        string text = new('x', 64 - 11); // {"text":"…"} is 64 bytes of JSON
        _jsonEcho = Loopback.Masked("{\"id\":1,\"path\":\"bench/echo\",\"input\":{\"text\":\"" + text + "\"}}");
        _jsonAdd = Loopback.Masked("{\"id\":1,\"path\":\"bench/add\",\"input\":{\"a\":20,\"b\":22}}");
        _packEcho = MaskedBinary(MessagePackSerializer.Serialize(new Dictionary<string, object> { ["id"] = 1, ["path"] = "bench/echo", ["input"] = new Dictionary<string, object> { ["text"] = text } }));
        _packAdd = MaskedBinary(MessagePackSerializer.Serialize(new Dictionary<string, object> { ["id"] = 1, ["path"] = "bench/add", ["input"] = new Dictionary<string, object> { ["a"] = 20, ["b"] = 22 } }));

        Loopback.Check(_json, _jsonAdd, "{\"id\":1,\"result\":42}", _receive);
        Check(_msgpack, _packAdd, new Dictionary<object, object> { ["id"] = (byte)1, ["result"] = (byte)42 });
        Check(_msgpack, _packEcho, new Dictionary<object, object> { ["id"] = (byte)1, ["result"] = new Dictionary<object, object> { ["text"] = text } });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _json.Dispose();
        _msgpack.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "JSON bench/echo, 64 B input")]
    public int JsonEcho() => Loopback.RoundTrip(_json, _jsonEcho, _receive);

    [Benchmark(Description = "MessagePack bench/echo, same input")]
    public int MessagePackEcho() => Loopback.RoundTrip(_msgpack, _packEcho, _receive);

    [Benchmark(Description = "JSON bench/add, struct in/int out")]
    public int JsonAdd() => Loopback.RoundTrip(_json, _jsonAdd, _receive);

    [Benchmark(Description = "MessagePack bench/add, struct in/int out")]
    public int MessagePackAdd() => Loopback.RoundTrip(_msgpack, _packAdd, _receive);

    private static Socket Open(IPEndPoint ep, string subprotocol)
    {
        var s = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        s.Connect(ep);
        s.Send(Encoding.ASCII.GetBytes($"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {subprotocol}\r\n\r\n"));
        var head = new byte[1024];
        int n = 0;
        while (n < 4 || !head.AsSpan(0, n).EndsWith("\r\n\r\n"u8)) n += s.Receive(head, n, 1, SocketFlags.None);
        string response = Encoding.ASCII.GetString(head, 0, n);
        if (!response.StartsWith("HTTP/1.1 101") || !response.Contains(subprotocol)) throw new InvalidOperationException("upgrade failed: " + response);
        return s;
    }

    private static byte[] MaskedBinary(byte[] payload)
    {
        var key = new byte[] { 0x12, 0x34, 0x56, 0x78 };
        int header = payload.Length <= 125 ? 2 : 4;
        var frame = new byte[header + 4 + payload.Length];
        frame[0] = 0x82;
        if (header == 2) frame[1] = (byte)(0x80 | payload.Length);
        else { frame[1] = 0x80 | 126; BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length); }
        key.CopyTo(frame, header);
        for (int i = 0; i < payload.Length; i++) frame[header + 4 + i] = (byte)(payload[i] ^ key[i & 3]);
        return frame;
    }

    private void Check(Socket socket, byte[] frame, Dictionary<object, object> expected)
    {
        int len = Loopback.RoundTrip(socket, frame, _receive);
        int header = len > 125 ? 4 : 2;
        if (_receive[0] != 0x82) throw new InvalidOperationException("the reply is not a binary frame");
        var reply = MessagePackSerializer.Deserialize<object>(_receive.AsMemory(header, len));
        string got = Describe(reply), want = Describe(expected);
        if (got != want) throw new InvalidOperationException($"unexpected reply {got}, expected {want}");
    }

    private static string Describe(object? value) => value switch
    {
        IDictionary<object, object> d => "{" + string.Join(",", d.Select(kv => Describe(kv.Key) + ":" + Describe(kv.Value))) + "}",
        string s => "\"" + s + "\"",
        null => "nil",
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!,
    };
}
