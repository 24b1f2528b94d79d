using System.Buffers;
using System.Text;

namespace Gateway.Protocol.Http;

/// <summary>Plain HTTP responses for everything that is not an upgrade (health, errors).</summary>
public static class HttpResponse
{
    public static string ReasonPhrase(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    };

    /// <summary>A complete response with a text body and <c>Connection: close</c>.</summary>
    public static void Write(IBufferWriter<byte> output, int status, string body, string contentType = "text/plain; charset=utf-8", IEnumerable<KeyValuePair<string, string>>? headers = null, bool includeBody = true)
    {
        var w = new HttpHeadWriter(output);
        w.Append("HTTP/1.1 "u8);
        w.Append(status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        w.Append(" "u8);
        w.Append(ReasonPhrase(status));
        w.Append("\r\nContent-Type: "u8);
        w.Append(contentType);
        int length = Encoding.UTF8.GetByteCount(body);
        w.Append("\r\nContent-Length: "u8);
        w.Append(length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        w.Append("\r\nConnection: close\r\nCache-Control: no-store\r\n"u8);
        if (headers is not null)
        {
            foreach (var (name, value) in headers)
            {
                w.Append(name);
                w.Append(": "u8);
                w.Append(value);
                w.Append("\r\n"u8);
            }
        }
        w.Append("\r\n"u8);
        if (includeBody) w.Append(body);
    }
}
