using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Gateway.Protocol.Http;
using static Gateway.Protocol.Tests.HttpTestRequests;

namespace Gateway.Protocol.Tests;

public class WebSocketHandshakeTests
{
    private static readonly string[] Supported = [WebSocketHandshake.JsonSubprotocol, WebSocketHandshake.MsgPackSubprotocol];

    private static UpgradeDecision Evaluate(string head) => WebSocketHandshake.Evaluate(ParseOk(head), Supported);

    private static string ComputeAccept(string key)
    {
        Span<byte> accept = stackalloc byte[28];
        WebSocketHandshake.ComputeAccept(Encoding.ASCII.GetBytes(key), accept);
        return Encoding.ASCII.GetString(accept);
    }

    [Fact]
    public void Rfc6455_example_key_gives_the_example_accept()
    {
        Assert.Equal(RfcAccept, ComputeAccept(RfcKey));
    }

    [Fact]
    public void Accept_matches_sha1_of_key_and_guid_for_random_keys()
    {
        var rng = new Random(6455);
        for (int i = 0; i < 50; i++)
        {
            var raw = new byte[16];
            rng.NextBytes(raw);
            string key = Convert.ToBase64String(raw);
            string expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
            Assert.Equal(expected, ComputeAccept(key));
            Assert.True(WebSocketHandshake.IsValidKey(Encoding.ASCII.GetBytes(key)));
        }
    }

    [Fact]
    public void Valid_upgrade_request_is_accepted_without_subprotocol()
    {
        var d = Evaluate(Head());
        Assert.True(d.Accepted);
        Assert.Equal(101, d.StatusCode);
        Assert.Null(d.Subprotocol);
        Assert.Null(d.Error);
    }

    [Theory]
    [InlineData("Upgrade", "WebSocket")]
    [InlineData("Upgrade", "h2c, websocket")]
    [InlineData("Connection", "upgrade")]
    [InlineData("Connection", "Upgrade")]
    [InlineData("Connection", "keep-alive,Upgrade")]
    [InlineData("Connection", " Upgrade ,keep-alive")]
    public void Token_lists_are_matched_case_insensitively(string header, string value)
    {
        Assert.Equal(101, Evaluate(Head(headers: With(header, value))).StatusCode);
    }

    public static TheoryData<string, string[], int> Rejections()
    {
        var d = new TheoryData<string, string[], int>
        {
            // Sec-WebSocket-Key
            { "GET / HTTP/1.1", Without("Sec-WebSocket-Key"), 400 },
            { "GET / HTTP/1.1", With("Sec-WebSocket-Key", ""), 400 },
            { "GET / HTTP/1.1", With("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ="), 400 },        // 23 chars
            { "GET / HTTP/1.1", With("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==="), 400 },      // 25 chars
            { "GET / HTTP/1.1", With("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZ!=="), 400 },       // not base64
            { "GET / HTTP/1.1", With("Sec-WebSocket-Key", "dGhlIHNhbXBs ZSBub25jZQ="), 400 },       // space inside
            { "GET / HTTP/1.1", With("Sec-WebSocket-Key", Convert.ToBase64String(new byte[15])), 400 }, // 15 bytes (20 chars)
            { "GET / HTTP/1.1", With("Sec-WebSocket-Key", Convert.ToBase64String(new byte[17])), 400 }, // 17 bytes (24 chars, one '=')
            { "GET / HTTP/1.1", With("Sec-WebSocket-Key", Convert.ToBase64String(new byte[18])), 400 }, // 18 bytes (24 chars, no '=')
            { "GET / HTTP/1.1", Plus("Sec-WebSocket-Key: " + Convert.ToBase64String(new byte[16])), 400 }, // two keys
            // Sec-WebSocket-Version
            { "GET / HTTP/1.1", With("Sec-WebSocket-Version", "12"), 426 },
            { "GET / HTTP/1.1", With("Sec-WebSocket-Version", "8"), 426 },
            { "GET / HTTP/1.1", With("Sec-WebSocket-Version", "13, 8"), 426 },
            { "GET / HTTP/1.1", With("Sec-WebSocket-Version", "130"), 426 },
            { "GET / HTTP/1.1", Without("Sec-WebSocket-Version"), 400 },
            // Method and version
            { "POST / HTTP/1.1", HttpTestRequests.UpgradeHeaders, 400 },
            { "HEAD / HTTP/1.1", HttpTestRequests.UpgradeHeaders, 400 },
            { "get / HTTP/1.1", HttpTestRequests.UpgradeHeaders, 400 },
            { "GET / HTTP/1.0", HttpTestRequests.UpgradeHeaders, 400 },
            // Upgrade and Connection
            { "GET / HTTP/1.1", Without("Upgrade"), 400 },
            { "GET / HTTP/1.1", With("Upgrade", "h2c"), 400 },
            { "GET / HTTP/1.1", With("Upgrade", "websocket2"), 400 },
            { "GET / HTTP/1.1", Without("Connection"), 400 },
            { "GET / HTTP/1.1", With("Connection", "keep-alive"), 400 },
            { "GET / HTTP/1.1", With("Connection", "Upgrades"), 400 },
            // Host
            { "GET / HTTP/1.1", Without("Host"), 400 },
            { "GET / HTTP/1.1", Plus("Host: other.example.com"), 400 },
            { "GET / HTTP/1.1", Plus("host: example.com:8080"), 400 },
            // Subprotocols
            { "GET / HTTP/1.1", Plus("Sec-WebSocket-Protocol: foo"), 400 },
            { "GET / HTTP/1.1", Plus("Sec-WebSocket-Protocol: bearer.abc, foo"), 400 },
            { "GET / HTTP/1.1", Plus("Sec-WebSocket-Protocol: GATEWAY.V1.JSON"), 400 },
        };
        return d;
    }

    [Theory]
    [MemberData(nameof(Rejections))]
    public void Bad_upgrade_requests_are_rejected(string requestLine, string[] headers, int status)
    {
        var d = Evaluate(Head(requestLine, headers));
        Assert.False(d.Accepted);
        Assert.Equal(status, d.StatusCode);
        Assert.Null(d.Subprotocol);
        Assert.False(string.IsNullOrEmpty(d.Error));
    }

    [Fact]
    public void Http_2_request_line_is_rejected_by_the_parser_with_505()
    {
        var r = Parse(Head("GET / HTTP/2.0"));
        Assert.Equal(HttpParseStatus.Error, r.Status);
        Assert.Equal(505, r.StatusCode);
    }

    [Theory]
    [InlineData("dGhlIHNhbXBsZSBub25jZQ==", true)]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA==", true)]
    [InlineData("/////////////////////w==", true)]
    [InlineData("dGhlIHNhbXBsZSBub25jZQ=", false)]
    [InlineData("dGhlIHNhbXBsZSBub25jZQ", false)]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAA=", false)]    // 17 bytes
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAA", false)]    // 18 bytes
    [InlineData("AAAAAAAAAAAAAAAAAAAA", false)]        // 15 bytes
    [InlineData("AAAAAAAAAAAAAAAAAAAAA-==", false)]    // base64url alphabet
    [InlineData("", false)]
    public void IsValidKey(string key, bool expected)
    {
        Assert.Equal(expected, WebSocketHandshake.IsValidKey(Encoding.ASCII.GetBytes(key)));
    }

    [Theory]
    [InlineData("gateway.v1.msgpack, gateway.v1.json", WebSocketHandshake.MsgPackSubprotocol)]
    [InlineData("gateway.v1.json, gateway.v1.msgpack", WebSocketHandshake.JsonSubprotocol)]
    [InlineData("bearer.abc, gateway.v1.json", WebSocketHandshake.JsonSubprotocol)]
    [InlineData("bearer.abc,gateway.v1.msgpack", WebSocketHandshake.MsgPackSubprotocol)]
    [InlineData("foo, gateway.v1.json", WebSocketHandshake.JsonSubprotocol)]
    [InlineData(" gateway.v1.json ", WebSocketHandshake.JsonSubprotocol)]
    [InlineData("bearer.abc", null)]
    [InlineData("bearer.gateway.v1.json", null)]
    public void Subprotocol_selection(string offered, string? expected)
    {
        var d = Evaluate(Head(headers: Plus("Sec-WebSocket-Protocol: " + offered)));
        Assert.True(d.Accepted, d.Error);
        Assert.Equal(expected, d.Subprotocol);
    }

    [Fact]
    public void Subprotocol_offers_over_several_headers()
    {
        var d = Evaluate(Head(headers: Plus("Sec-WebSocket-Protocol: bearer.xyz", "Sec-WebSocket-Protocol: foo, gateway.v1.msgpack")));
        Assert.True(d.Accepted, d.Error);
        Assert.Equal(WebSocketHandshake.MsgPackSubprotocol, d.Subprotocol);
    }

    [Fact]
    public void Subprotocol_none_offered_is_accepted_with_null()
    {
        var d = Evaluate(Head());
        Assert.True(d.Accepted);
        Assert.Null(d.Subprotocol);
    }

    [Fact]
    public void Unsupported_subprotocol_error_names_the_supported_ones()
    {
        var d = Evaluate(Head(headers: Plus("Sec-WebSocket-Protocol: foo")));
        Assert.Equal(400, d.StatusCode);
        Assert.Contains(WebSocketHandshake.JsonSubprotocol, d.Error);
        Assert.Contains(WebSocketHandshake.MsgPackSubprotocol, d.Error);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(WebSocketHandshake.JsonSubprotocol)]
    [InlineData(WebSocketHandshake.MsgPackSubprotocol)]
    public void WriteAccept_writes_exactly_the_101_response(string? subprotocol)
    {
        var request = ParseOk(Head());
        var output = new ArrayBufferWriter<byte>();
        WebSocketHandshake.WriteAccept(output, request, subprotocol);

        string expected =
            "HTTP/1.1 101 Switching Protocols\r\n" +
            "Upgrade: websocket\r\n" +
            "Connection: Upgrade\r\n" +
            "Sec-WebSocket-Accept: " + RfcAccept + "\r\n" +
            (subprotocol is null ? "" : "Sec-WebSocket-Protocol: " + subprotocol + "\r\n") +
            "\r\n";
        Assert.Equal(expected, Encoding.ASCII.GetString(output.WrittenSpan));
    }

    [Fact]
    public void WriteAccept_uses_the_requests_key()
    {
        var raw = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        string key = Convert.ToBase64String(raw);
        var request = ParseOk(Head(headers: With("Sec-WebSocket-Key", key)));
        Assert.True(WebSocketHandshake.Evaluate(request, Supported).Accepted);
        var output = new ArrayBufferWriter<byte>();
        WebSocketHandshake.WriteAccept(output, request, null);
        Assert.Contains("Sec-WebSocket-Accept: " + ComputeAccept(key) + "\r\n", Encoding.ASCII.GetString(output.WrittenSpan));
        Assert.DoesNotContain(RfcAccept, Encoding.ASCII.GetString(output.WrittenSpan));
    }
}
