using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Gateway.Protocol.Http;

namespace Gateway.Benchmarks;

/// <summary>
/// The opening handshake's CPU part for a typical browser upgrade request (about 500 bytes of headers; 534 bytes in all): parse the head
/// with <see cref="HttpRequestParser.TryParse"/>, then check it with <see cref="WebSocketHandshake.Evaluate"/>.
/// </summary>
[MemoryDiagnoser]
public class HandshakeBenchmarks
{
    private static readonly string[] Supported = [WebSocketHandshake.JsonSubprotocol, WebSocketHandshake.MsgPackSubprotocol];

    public const string BrowserRequest =
        "GET /ws?room=lobby HTTP/1.1\r\n" +
        "Host: gateway.example.com\r\n" +
        "Connection: Upgrade\r\n" +
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n" +
        "Upgrade: websocket\r\n" +
        "Origin: https://app.example.com\r\n" +
        "Sec-WebSocket-Version: 13\r\n" +
        "Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n" +
        "Cookie: session=3f1c2b9a7d6e4f50a1b2c3d4e5f60718; theme=dark\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
        "Sec-WebSocket-Protocol: gateway.v1.json\r\n" +
        "\r\n";

    private byte[] _request = [];

    [GlobalSetup]
    public void Setup()
    {
        _request = Encoding.ASCII.GetBytes(BrowserRequest);
        if (ParseAndEvaluate() != 101) throw new InvalidOperationException("the sample request is not accepted");
    }

    [Benchmark(Baseline = true)]
    public HttpRequestHead? ParseOnly()
    {
        var buffer = new ReadOnlySequence<byte>(_request);
        return HttpRequestParser.TryParse(ref buffer, 8 * 1024, 64).Request;
    }

    [Benchmark]
    public int ParseAndEvaluate()
    {
        var buffer = new ReadOnlySequence<byte>(_request);
        var parsed = HttpRequestParser.TryParse(ref buffer, 8 * 1024, 64);
        if (parsed.Status != HttpParseStatus.Done || !buffer.IsEmpty) return -1;
        var decision = WebSocketHandshake.Evaluate(parsed.Request!, Supported);
        return decision.Accepted && decision.Subprotocol == WebSocketHandshake.JsonSubprotocol ? decision.StatusCode : -decision.StatusCode;
    }
}
