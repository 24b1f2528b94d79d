using System.Buffers;
using System.Text;
using Gateway.Protocol.Http;
using static Gateway.Protocol.Tests.HttpTestRequests;

namespace Gateway.Protocol.Tests;

public class HttpRequestParserTests
{
    [Fact]
    public void Parses_a_valid_upgrade_request()
    {
        var req = ParseOk(Head());
        Assert.Equal("GET", req.Method);
        Assert.True(req.IsGet);
        Assert.Equal("/chat?room=1&x=y", req.RawTarget);
        Assert.Equal("/chat", req.Path);
        Assert.Equal("room=1&x=y", req.Query);
        Assert.Equal(1, req.VersionMinor);
        Assert.Equal(6, req.HeaderCount);

        Assert.Equal("Host", Encoding.ASCII.GetString(req.HeaderName(0)));
        Assert.Equal("example.com:8080", Encoding.ASCII.GetString(req.HeaderValue(0)));
        Assert.Equal("Origin", Encoding.ASCII.GetString(req.HeaderName(5)));
        Assert.Equal("http://example.com", Encoding.ASCII.GetString(req.HeaderValue(5)));

        // Header names are case-insensitive.
        Assert.Equal("example.com:8080", req.GetString("host"u8));
        Assert.Equal("example.com:8080", req.GetString("HOST"u8));
        Assert.True(req.TryGet("sec-websocket-key"u8, out var key));
        Assert.Equal(RfcKey, Encoding.ASCII.GetString(key));
        Assert.False(req.TryGet("Cookie"u8, out _));
        Assert.Null(req.GetString("Cookie"u8));
        Assert.Equal(1, req.Count("upgrade"u8));
        Assert.Equal(0, req.Count("cookie"u8));

        // Comma-separated tokens, case-insensitive, whitespace ignored.
        Assert.True(req.ContainsToken("Connection"u8, "Upgrade"u8));
        Assert.True(req.ContainsToken("connection"u8, "upgrade"u8));
        Assert.True(req.ContainsToken("Connection"u8, "keep-alive"u8));
        Assert.False(req.ContainsToken("Connection"u8, "close"u8));
        Assert.False(req.ContainsToken("Connection"u8, "keep"u8));
        Assert.False(req.ContainsToken("Upgrade"u8, "Upgrade"u8));
        Assert.True(req.ContainsToken("Upgrade"u8, "WebSocket"u8));

        var dict = req.ToDictionary();
        Assert.Equal(6, dict.Count);
        Assert.Equal("13", dict["sec-websocket-version"]);
    }

    [Fact]
    public void Path_without_query_and_repeated_headers()
    {
        var req = ParseOk(Head("GET / HTTP/1.1", ["Host: a", "X-Thing: 1", "x-thing: 2", "Connection: Upgrade", "Connection: close , foo"]));
        Assert.Equal("/", req.Path);
        Assert.Null(req.Query);
        Assert.Equal(2, req.Count("X-THING"u8));
        Assert.Equal("1", req.GetString("x-thing"u8)); // the first one
        Assert.Equal("1, 2", req.ToDictionary()["X-Thing"]);
        Assert.True(req.ContainsToken("Connection"u8, "foo"u8)); // tokens from any header of that name
        Assert.True(req.ContainsToken("Connection"u8, "close"u8));
    }

    [Theory]
    [InlineData("Host:example.com", "example.com")]
    [InlineData("Host:   example.com   ", "example.com")]
    [InlineData("Host:\texample.com\t", "example.com")]
    [InlineData("Host: a b\tc", "a b\tc")]
    [InlineData("Host:", "")]
    [InlineData("Host:    ", "")]
    public void Header_values_are_trimmed_of_optional_whitespace(string line, string expected)
    {
        var req = ParseOk(Head("GET / HTTP/1.1", [line]));
        Assert.Equal(expected, req.GetString("Host"u8));
    }

    [Fact]
    public void Head_split_at_every_position()
    {
        var head = Bytes(Head());
        var trailing = new byte[] { 0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F };
        var all = Frames.Concat(head, trailing);

        for (int i = 0; i < head.Length; i++)
        {
            var prefix = new ReadOnlySequence<byte>(all[..i]);
            var r = HttpRequestParser.TryParse(ref prefix, 8192, 64);
            Assert.True(r.Status == HttpParseStatus.Incomplete, $"prefix {i}: {r.Status} {r.Error}");
            Assert.Equal(i, prefix.Length); // nothing consumed
        }

        for (int end = head.Length; end <= all.Length; end++)
        {
            var buffer = new ReadOnlySequence<byte>(all[..end]);
            var r = HttpRequestParser.TryParse(ref buffer, 8192, 64);
            Assert.Equal(HttpParseStatus.Done, r.Status);
            Assert.Equal(all[head.Length..end], buffer.ToArray()); // sliced exactly after the blank line
            Assert.Equal("/chat", r.Request!.Path);
        }

        // The same head in two segments, split anywhere.
        for (int i = 0; i <= all.Length; i++)
        {
            var buffer = BufferSegment.Split(all, i);
            var r = HttpRequestParser.TryParse(ref buffer, 8192, 64);
            Assert.True(r.Status == HttpParseStatus.Done, $"segment split {i}: {r.Status} {r.Error}");
            Assert.Equal(trailing, buffer.ToArray());
            Assert.Equal(6, r.Request!.HeaderCount);
            Assert.Equal(RfcKey, r.Request.GetString("Sec-WebSocket-Key"u8));
        }
    }

    [Fact]
    public void Parsed_head_does_not_depend_on_the_input_buffer()
    {
        var bytes = Bytes(Head());
        var buffer = new ReadOnlySequence<byte>(bytes);
        var r = HttpRequestParser.TryParse(ref buffer, 8192, 64);
        Array.Clear(bytes);
        Assert.Equal("example.com:8080", r.Request!.GetString("Host"u8));
        Assert.Equal("GET", r.Request.Method);
    }

    [Theory]
    [InlineData("GET / HTTP/2.0", 505)]
    [InlineData("GET / HTTP/3.0", 505)]
    [InlineData("GET / HTTP/0.9", 505)]
    [InlineData("GET / HTTP/1", 400)]
    [InlineData("GET / HTTP/1.10", 400)]
    [InlineData("GET / http/1.1", 400)]
    [InlineData("GET / HTTP/a.1", 400)]
    [InlineData("GET /", 400)]
    [InlineData("GET", 400)]
    [InlineData("", 400)]
    [InlineData(" GET / HTTP/1.1", 400)]
    [InlineData("GET  / HTTP/1.1", 400)]
    [InlineData("GET / HTTP/1.1 ", 400)]
    [InlineData("GET http://example.com/ HTTP/1.1", 400)]
    [InlineData("GET * HTTP/1.1", 400)]
    [InlineData("GET /a\u007Fb HTTP/1.1", 400)]
    [InlineData("G(T / HTTP/1.1", 400)]
    [InlineData("GET / HTTP/1.1\nX: y", 400)]    // bare LF in the request line area
    [InlineData("GET / HTTP/1.1\rX: y", 400)]    // bare CR
    public void Malformed_request_lines_are_rejected(string requestLine, int status)
    {
        var r = Parse(Head(requestLine, ["Host: a"]));
        Assert.Equal(HttpParseStatus.Error, r.Status);
        Assert.Equal(status, r.StatusCode);
        Assert.NotNull(r.Error);
    }

    [Fact]
    public void Http_1_0_parses_and_reports_its_version()
    {
        var req = ParseOk(Head("GET / HTTP/1.0"));
        Assert.Equal(0, req.VersionMinor);
    }

    [Theory]
    [InlineData("Host : example.com")]           // space before the colon
    [InlineData("Host\t: example.com")]
    [InlineData(" Host: example.com")]
    [InlineData("\tX-Folded: more")]              // obsolete line folding (as the first header)
    [InlineData("X-A: 1\r\n continued")]          // obsolete line folding
    [InlineData("X-A: 1\r\n\tcontinued")]
    [InlineData("X-A: 1\nX-B: 2")]                // bare LF inside the head
    [InlineData("X-A: 1\rX-B: 2")]                // bare CR
    [InlineData("X-A: a\nb")]
    [InlineData("NoColon")]
    [InlineData(": empty-name")]
    [InlineData("Bad Name: x")]
    [InlineData("Bad(Name): x")]
    [InlineData("X-A: a\u0000b")]
    [InlineData("X-A: a\u001Fb")]
    [InlineData("X-A: a\u007Fb")]
    public void Malformed_header_lines_are_rejected_with_400(string line)
    {
        var r = Parse(Head("GET / HTTP/1.1", ["Host: a", line, "X-Z: z"]));
        Assert.Equal(HttpParseStatus.Error, r.Status);
        Assert.Equal(400, r.StatusCode);
    }

    [Theory]
    [InlineData("X-A: 1\r\n continued: yes")]
    [InlineData("X-A: 1\r\n\tcontinued")]
    public void Obsolete_line_folding_is_diagnosed_as_such(string line)
    {
        var r = Parse(Head("GET / HTTP/1.1", ["Host: a", line]));
        Assert.Equal(HttpParseStatus.Error, r.Status);
        Assert.Equal(400, r.StatusCode);
        Assert.Contains("folding", r.Error);
    }

    [Fact]
    public void Head_over_the_size_limit_fails_with_431()
    {
        var head = Bytes(Head());
        int size = head.Length;

        // Terminator present: exactly at the limit is fine, one byte over is not.
        var buffer = new ReadOnlySequence<byte>(head);
        Assert.Equal(HttpParseStatus.Done, HttpRequestParser.TryParse(ref buffer, size, 64).Status);
        buffer = new ReadOnlySequence<byte>(head);
        var r = HttpRequestParser.TryParse(ref buffer, size - 1, 64);
        Assert.Equal(HttpParseStatus.Error, r.Status);
        Assert.Equal(431, r.StatusCode);

        // Terminator not there yet: 431 as soon as more than the limit is buffered.
        var partial = head[..^4];
        buffer = new ReadOnlySequence<byte>(partial);
        Assert.Equal(HttpParseStatus.Incomplete, HttpRequestParser.TryParse(ref buffer, partial.Length, 64).Status);
        buffer = new ReadOnlySequence<byte>(partial);
        r = HttpRequestParser.TryParse(ref buffer, partial.Length - 1, 64);
        Assert.Equal(HttpParseStatus.Error, r.Status);
        Assert.Equal(431, r.StatusCode);

        // A client that never ends its head.
        var endless = Bytes("GET / HTTP/1.1\r\nX-Long: " + new string('a', 10_000));
        buffer = new ReadOnlySequence<byte>(endless);
        r = HttpRequestParser.TryParse(ref buffer, 8192, 64);
        Assert.Equal(431, r.StatusCode);
    }

    [Fact]
    public void Trailing_bytes_do_not_count_toward_the_size_limit()
    {
        var head = Bytes(Head());
        var buffer = new ReadOnlySequence<byte>(Frames.Concat(head, new byte[5000]));
        var r = HttpRequestParser.TryParse(ref buffer, head.Length, 64);
        Assert.Equal(HttpParseStatus.Done, r.Status);
        Assert.Equal(5000, buffer.Length);
    }

    [Theory]
    [InlineData(6, 6, HttpParseStatus.Done)]
    [InlineData(6, 5, HttpParseStatus.Error)]
    [InlineData(40, 40, HttpParseStatus.Done)]   // more than the initial 32 slots
    [InlineData(40, 39, HttpParseStatus.Error)]
    [InlineData(100, 64, HttpParseStatus.Error)]
    [InlineData(1, 0, HttpParseStatus.Error)]
    public void Header_count_limit(int headers, int maxHeaderCount, HttpParseStatus expected)
    {
        var lines = Enumerable.Range(0, headers).Select(i => i == 0 ? "Host: a" : $"X-H{i}: v{i}").ToArray();
        var r = Parse(Head("GET / HTTP/1.1", lines), 65536, maxHeaderCount);
        Assert.Equal(expected, r.Status);
        if (expected == HttpParseStatus.Error)
        {
            Assert.Equal(431, r.StatusCode);
        }
        else
        {
            Assert.Equal(headers, r.Request!.HeaderCount);
            Assert.Equal($"v{headers - 1}", r.Request.GetString(Encoding.ASCII.GetBytes($"x-h{headers - 1}")));
            for (int i = 1; i < headers; i++)
                Assert.Equal($"X-H{i}", Encoding.ASCII.GetString(r.Request.HeaderName(i)));
        }
    }

    [Fact]
    public void Request_with_no_headers_parses()
    {
        var req = ParseOk("GET /x HTTP/1.1\r\n\r\n");
        Assert.Equal(0, req.HeaderCount);
        Assert.Equal("/x", req.Path);
    }
}
