using System.Buffers;
using System.Text;
using Gateway.Protocol.Http;

namespace Gateway.Protocol.Tests;

/// <summary>Builds request heads for the HTTP tests.</summary>
public static class HttpTestRequests
{
    public const string RfcKey = "dGhlIHNhbXBsZSBub25jZQ==";
    public const string RfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    public static readonly string[] UpgradeHeaders =
    [
        "Host: example.com:8080",
        "Upgrade: websocket",
        "Connection: keep-alive, Upgrade",
        "Sec-WebSocket-Key: " + RfcKey,
        "Sec-WebSocket-Version: 13",
        "Origin: http://example.com",
    ];

    public static string Head(string requestLine = "GET /chat?room=1&x=y HTTP/1.1", IEnumerable<string>? headers = null)
    {
        var sb = new StringBuilder(requestLine).Append("\r\n");
        foreach (var h in headers ?? UpgradeHeaders) sb.Append(h).Append("\r\n");
        return sb.Append("\r\n").ToString();
    }

    /// <summary>The upgrade headers without the named one(s).</summary>
    public static string[] Without(params string[] names) =>
        UpgradeHeaders.Where(h => !names.Any(n => h.StartsWith(n + ":", StringComparison.OrdinalIgnoreCase))).ToArray();

    /// <summary>The upgrade headers with the named one replaced (or added) with the given value.</summary>
    public static string[] With(string name, string value) => [.. Without(name), name + ": " + value];

    public static string[] Plus(params string[] extra) => [.. UpgradeHeaders, .. extra];

    public static byte[] Bytes(string s) => Encoding.Latin1.GetBytes(s);

    public static HttpParseResult Parse(string head, int maxHeaderBytes = 8192, int maxHeaderCount = 64)
    {
        var buffer = new ReadOnlySequence<byte>(Bytes(head));
        return HttpRequestParser.TryParse(ref buffer, maxHeaderBytes, maxHeaderCount);
    }

    public static HttpRequestHead ParseOk(string head)
    {
        var r = Parse(head);
        Assert.True(r.Status == HttpParseStatus.Done, $"{r.Status} {r.StatusCode} {r.Error}");
        Assert.NotNull(r.Request);
        return r.Request!;
    }
}
