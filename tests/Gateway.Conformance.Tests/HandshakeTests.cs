using System.Security.Cryptography;
using System.Text;
using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>RFC 6455 §4.2 opening handshake and the HTTP/1.1 request head rules.</summary>
public class HandshakeTests
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    /// <summary>An upgrade request; a null header value leaves that header out.</summary>
    private static string Req(string method = "GET", string path = "/echo", string version = "HTTP/1.1", string? host = "127.0.0.1",
        string? upgrade = "websocket", string? connection = "Upgrade", string? key = Key, string? wsVersion = "13", string? protocol = null, string extra = "")
    {
        var sb = new StringBuilder();
        sb.Append(method).Append(' ').Append(path).Append(' ').Append(version).Append("\r\n");
        if (host is not null) sb.Append("Host: ").Append(host).Append("\r\n");
        if (upgrade is not null) sb.Append("Upgrade: ").Append(upgrade).Append("\r\n");
        if (connection is not null) sb.Append("Connection: ").Append(connection).Append("\r\n");
        if (key is not null) sb.Append("Sec-WebSocket-Key: ").Append(key).Append("\r\n");
        if (wsVersion is not null) sb.Append("Sec-WebSocket-Version: ").Append(wsVersion).Append("\r\n");
        if (protocol is not null) sb.Append("Sec-WebSocket-Protocol: ").Append(protocol).Append("\r\n");
        sb.Append(extra).Append("\r\n");
        return sb.ToString();
    }

    private static string B64(int bytes) => Convert.ToBase64String(Enumerable.Range(1, bytes).Select(i => (byte)i).ToArray());

    public static TheoryData<string, string, int> Requests() => new()
    {
        { "valid", Req(), 101 },
        { "missing Sec-WebSocket-Key", Req(key: null), 400 },
        { "empty Sec-WebSocket-Key", Req(key: ""), 400 },
        { "key of 23 characters", Req(key: Key[..23]), 400 },
        { "key of 25 characters", Req(key: Key + "A"), 400 },
        { "key not base64", Req(key: "!!!!!!!!!!!!!!!!!!!!!!=="), 400 },
        { "key with a space inside", Req(key: "dGhlIHNhbXBsZSB ub25jZQ="), 400 },
        { "key decoding to 15 bytes", Req(key: B64(15)), 400 },
        { "key decoding to 17 bytes", Req(key: B64(17)), 400 },
        { "key decoding to 18 bytes (24 chars)", Req(key: B64(18)), 400 },
        { "two keys", Req(extra: "Sec-WebSocket-Key: " + Key + "\r\n"), 400 },
        { "version 8", Req(wsVersion: "8"), 426 },
        { "version 12", Req(wsVersion: "12"), 426 },
        { "version 14", Req(wsVersion: "14"), 426 },
        { "missing version", Req(wsVersion: null), 400 },
        { "POST", Req(method: "POST"), 400 },
        { "PUT", Req(method: "PUT"), 400 },
        { "HEAD", Req(method: "HEAD"), 400 },
        { "lower-case get", Req(method: "get"), 400 },
        { "missing Upgrade header", Req(upgrade: null), 400 },
        { "Upgrade: h2c", Req(upgrade: "h2c"), 400 },
        { "Upgrade: WebSocket (mixed case)", Req(upgrade: "WebSocket"), 101 },
        { "Upgrade: WEBSOCKET", Req(upgrade: "WEBSOCKET"), 101 },
        { "missing Connection header", Req(connection: null), 400 },
        { "Connection: keep-alive", Req(connection: "keep-alive"), 400 },
        { "Connection: keep-alive, Upgrade", Req(connection: "keep-alive, Upgrade"), 101 },
        { "Connection: upgrade (lower case)", Req(connection: "upgrade"), 101 },
        { "no Host", Req(host: null), 400 },
        { "two Hosts", Req(extra: "Host: other\r\n"), 400 },
        { "unknown path", Req(path: "/nope"), 404 },
        { "path with trailing slash", Req(path: "/echo/"), 404 },
        { "path with query", Req(path: "/echo?x=1"), 101 },
        { "absolute-form target", Req(path: "http://127.0.0.1/echo"), 400 },
        { "HTTP/1.0", Req(version: "HTTP/1.0"), 400 },
        { "HTTP/2.0", Req(version: "HTTP/2.0"), 505 },
        { "HTTP/3.0", Req(version: "HTTP/3.0"), 505 },
        { "malformed version", Req(version: "HTTP/1"), 400 },
        { "space before colon", Req(extra: "X-Bad : 1\r\n"), 400 },
        { "obsolete line folding", Req(extra: "X-Folded: a\r\n b\r\n"), 400 },
        { "bare LF inside a header", Req(extra: "X-Bad: a\nb\r\n"), 400 },
        { "bare CR inside a header", Req(extra: "X-Bad: a\rb\r\n"), 400 },
        { "lower-case header names", "GET /echo HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: " + Key + "\r\nsec-websocket-version: 13\r\n\r\n", 101 },
        { "Upgrade: h2c, websocket", Req(upgrade: "h2c, websocket"), 101 },
        { "non-ASCII byte in the path", Req(path: "/ech\u00f6"), 400 },
        { "subprotocol gateway.v1.json", Req(protocol: "gateway.v1.json"), 101 },
        { "subprotocol foo", Req(protocol: "foo"), 400 },
        { "subprotocol bearer.xyz alone", Req(protocol: "bearer.xyz"), 101 },
        { "garbage ending in CRLFCRLF", "\u0001\u0002garbage\u007f\r\n\r\n", 400 },
        { "just CRLFCRLF", "\r\n\r\n", 400 },
        { "request line only", "GET\r\n\r\n", 400 },
        { "no version", "GET /echo\r\nHost: x\r\n\r\n", 400 },
        { "TLS-like bytes", "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u01fc\u0003\u0003\r\n\r\n", 400 },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task Request_gets_the_expected_status(string name, string request, int expectedStatus)
    {
        _ = name;
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.ConnectAsync(gw.EndPoint);
        await c.SendAsync(Encoding.Latin1.GetBytes(request));
        var (status, head) = await c.ReadHttpHeadAsync(Normal);
        Assert.True(expectedStatus == status, $"expected {expectedStatus}, got {status}:\n{head}");
        if (status == 101)
        {
            // The connection really is a WebSocket now.
            await AssertStillEchoesAsync(c);
        }
        else
        {
            // An error response closes the connection; its Content-Length matches the body.
            Assert.Contains("Connection: close", head);
            string body = await c.ReadToEndAsync(Normal);
            var cl = head.Split("\r\n").Single(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            Assert.Equal(int.Parse(cl["Content-Length:".Length..].Trim()), Encoding.UTF8.GetByteCount(body));
        }
    }

    // Failed handshakes leave the server healthy.
    [Theory]
    [InlineData("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")]
    [InlineData("\u0001\u0002garbage\r\n\r\n")]
    [InlineData("GET /echo HTTP/2.0\r\n\r\n")]
    public async Task Bad_request_does_not_affect_other_clients(string request)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var bystander = await RawClient.OpenAsync(gw.EndPoint);
        await using (var bad = await RawClient.ConnectAsync(gw.EndPoint))
        {
            await bad.SendAsync(Encoding.Latin1.GetBytes(request));
            var (status, _) = await bad.ReadHttpHeadAsync(Normal);
            Assert.NotEqual(101, status);
        }
        await AssertStillEchoesAsync(bystander);
        await AssertServerHealthyAsync(gw);
    }

    [Theory]
    [InlineData("8")]
    [InlineData("7")]
    [InlineData("13, 8")]
    public async Task Wrong_version_is_426_and_names_version_13(string version)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.ConnectAsync(gw.EndPoint);
        await c.SendAsync(Req(wsVersion: version));
        var (status, head) = await c.ReadHttpHeadAsync(Normal);
        Assert.Equal(426, status);
        Assert.Contains("\r\nSec-WebSocket-Version: 13", head);
    }

    [Theory]
    [InlineData("gateway.v1.json", "gateway.v1.json")]
    [InlineData("gateway.v1.msgpack", "gateway.v1.msgpack")]
    [InlineData("bearer.xyz, gateway.v1.json", "gateway.v1.json")]
    [InlineData("gateway.v1.json, gateway.v1.msgpack", "gateway.v1.json")]
    [InlineData("foo, gateway.v1.msgpack", "gateway.v1.msgpack")]
    [InlineData("bearer.xyz", null)]
    [InlineData(null, null)]
    public async Task Subprotocol_negotiation(string? offered, string? chosen)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.ConnectAsync(gw.EndPoint);
        await c.SendAsync(Req(protocol: offered));
        var (status, head) = await c.ReadHttpHeadAsync(Normal);
        Assert.Equal(101, status);
        var lines = head.Split("\r\n");
        var protocolLines = lines.Where(l => l.StartsWith("Sec-WebSocket-Protocol:", StringComparison.OrdinalIgnoreCase)).ToList();
        if (chosen is null) Assert.Empty(protocolLines);
        else Assert.Equal($"Sec-WebSocket-Protocol: {chosen}", Assert.Single(protocolLines));
        await AssertStillEchoesAsync(c);
    }

    [Theory]
    [InlineData("foo")]
    [InlineData("GATEWAY.V1.JSON")]
    [InlineData("foo, bar")]
    [InlineData("bearer.xyz, foo")]
    public async Task Only_unsupported_subprotocols_is_400(string offered)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.ConnectAsync(gw.EndPoint);
        await c.SendAsync(Req(protocol: offered));
        var (status, _) = await c.ReadHttpHeadAsync(Normal);
        Assert.Equal(400, status);
    }

    [Theory]
    [InlineData(1, null)]
    [InlineData(2, null)]
    [InlineData(3, null)]
    [InlineData(4, "dGhlIHNhbXBsZSBub25jZQ==")] // RFC 6455 §1.3 example: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
    public async Task Sec_WebSocket_Accept_matches_RFC_6455(int run, string? fixedKey)
    {
        _ = run; // null = a fresh random key per run
        string key = fixedKey ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        string expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
        if (fixedKey is not null) Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", expected);
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.ConnectAsync(gw.EndPoint);
        await c.SendAsync(Req(key: key));
        var (status, head) = await c.ReadHttpHeadAsync(Normal);
        Assert.Equal(101, status);
        var lines = head.Split("\r\n");
        Assert.Equal("HTTP/1.1 101 Switching Protocols", lines[0]);
        Assert.Contains(lines, l => l.Equals("Upgrade: websocket", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(lines, l => l.Equals("Connection: Upgrade", StringComparison.OrdinalIgnoreCase));
        Assert.Equal($"Sec-WebSocket-Accept: {expected}", Assert.Single(lines, l => l.StartsWith("Sec-WebSocket-Accept:", StringComparison.OrdinalIgnoreCase)));
        await AssertStillEchoesAsync(c);
    }

    // Limits.MaxHeaderBytes counts the whole head including its final CRLFCRLF.
    [Theory]
    [InlineData(1024, 101)]
    [InlineData(1025, 431)]
    [InlineData(2048, 431)]
    [InlineData(8192, 431)]
    public async Task Request_head_over_MaxHeaderBytes_is_431(int headBytes, int expectedStatus)
    {
        await using var gw = await TestGateway.StartAsync(o => o.Limits.MaxHeaderBytes = 1024);
        await using var c = await RawClient.ConnectAsync(gw.EndPoint);
        int baseLength = Req(extra: "X-Pad: \r\n").Length;
        string request = Req(extra: "X-Pad: " + new string('p', headBytes - baseLength) + "\r\n");
        Assert.Equal(headBytes, request.Length);
        await c.SendAsync(request);
        var (status, _) = await c.ReadHttpHeadAsync(Normal);
        Assert.Equal(expectedStatus, status);
    }

    // The 431 comes as soon as the head is too big, even if its end never arrives.
    [Fact]
    public async Task Oversized_unfinished_head_is_431_without_waiting_for_its_end()
    {
        await using var gw = await TestGateway.StartAsync(o => o.Limits.MaxHeaderBytes = 1024);
        await using var c = await RawClient.ConnectAsync(gw.EndPoint);
        await c.SendAsync("GET /echo HTTP/1.1\r\nHost: x\r\nX-Pad: " + new string('p', 2048));
        var (status, _) = await c.ReadHttpHeadAsync(Short);
        Assert.Equal(431, status);
    }

    [Fact]
    public async Task Too_many_header_lines_is_431()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.ConnectAsync(gw.EndPoint);
        var extra = string.Concat(Enumerable.Range(0, 70).Select(i => $"X-H{i}: {i}\r\n"));
        await c.SendAsync(Req(extra: extra));
        var (status, _) = await c.ReadHttpHeadAsync(Normal);
        Assert.Equal(431, status);
    }
}
