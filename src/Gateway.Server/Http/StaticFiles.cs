using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Gateway.Protocol.Http;
using Gateway.Server.Connections;
using Gateway.Server.Options;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.Http;

/// <summary>
/// Serves the files under Gateway:StaticFiles:Path to plain GET and HEAD requests: the front door asks it only for
/// paths that are neither a probe nor a WebSocket endpoint, so a file can never shadow those. The URL path is
/// percent-decoded once and must stay inside the root: `..` and `.` segments, encoded slashes and backslashes, NUL,
/// invalid escapes and dot-files are refused, and the real path (every symlink followed) must lie under the root's
/// real path. "/" (and any "dir/") serves that folder's index.html; there is no directory listing.
/// </summary>
internal sealed class StaticFiles
{
    private const int ChunkBytes = 64 * 1024;
    private const int MaxSymlinks = 40; // as the kernel's ELOOP limit

    private readonly string _root;
    private readonly GatewayOptions _options;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _log;

    private StaticFiles(string root, GatewayOptions options, GatewayMetrics metrics, ILogger log)
    {
        _root = root;
        _options = options;
        _metrics = metrics;
        _log = log;
    }

    /// <summary>The static files of <paramref name="options"/>, or null when Gateway:StaticFiles:Path is not set.</summary>
    public static StaticFiles? Create(GatewayOptions options, GatewayMetrics metrics, ILogger log)
    {
        if (string.IsNullOrEmpty(options.StaticFiles.Path)) return null;
        // Validated at startup to exist; its own symlinks are resolved once so the containment check compares real paths.
        string root = RealPath(Path.GetFullPath(options.StaticFiles.Path))
            ?? throw new GatewayConfigurationException($"{GatewayOptions.SectionName}:StaticFiles:Path '{options.StaticFiles.Path}' cannot be resolved to a folder.");
        Log.StaticFilesEnabled(log, root);
        return new StaticFiles(root, options, metrics, log);
    }

    public async Task ServeAsync(GatewayConnection connection, HttpRequestHead request, bool isHead)
    {
        if (!request.IsGet && !isHead)
        {
            await RefuseAsync(connection, request, 405, "only GET and HEAD are allowed for files", isHead, [new("Allow", "GET, HEAD")]).ConfigureAwait(false);
            return;
        }
        string? file = Resolve(request.Path, out int status, out string? reason);
        if (file is null)
        {
            await RefuseAsync(connection, request, status, reason!, isHead).ConfigureAwait(false);
            return;
        }

        FileStream stream;
        try
        {
            stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await RefuseAsync(connection, request, 404, "no such file", isHead).ConfigureAwait(false);
            return;
        }

        await using (stream.ConfigureAwait(false))
        {
            long length = stream.Length;
            var written = File.GetLastWriteTimeUtc(file);
            string etag = "\"" + written.Ticks.ToString("x", CultureInfo.InvariantCulture) + "-" + length.ToString("x", CultureInfo.InvariantCulture) + "\"";
            bool notModified = request.GetString("If-None-Match"u8) is { } inm && Matches(inm, etag);
            var output = connection.Transport.Output;
            WriteHead(output, notModified ? 304 : 200, ContentType(file), notModified ? null : length, etag, written);
            _metrics.StaticFileServed();
            if (_metrics.LogBudget.Allow(_log, LogLevel.Debug)) Log.StaticFileServed(_log, connection.Id, request.Method, request.Path, notModified ? 304 : 200);
            if (!notModified && !isHead)
            {
                try
                {
                    // Chunked through the pipe: a slow reader pushes back through FlushAsync instead of the file sitting in memory.
                    while (true)
                    {
                        var memory = output.GetMemory(ChunkBytes);
                        int read = await stream.ReadAsync(memory, CancellationToken.None).ConfigureAwait(false);
                        if (read == 0) break;
                        output.Advance(read);
                        var flush = await output.FlushAsync().ConfigureAwait(false);
                        if (flush.IsCompleted || flush.IsCanceled) break;
                    }
                }
                catch (IOException ex)
                {
                    // The head is out with a Content-Length we can no longer honour: the client sees a short body and the close.
                    Log.StaticFileReadFailed(_log, ex, connection.Id, file);
                }
            }
            await output.FlushAsync().ConfigureAwait(false);
            await LingeringClose.RunAsync(connection, output.CompleteAsync(), _options.Timeouts.Close).ConfigureAwait(false);
        }
    }

    /// <summary>The real file for a URL path, or null with the status and reason to refuse it.</summary>
    internal string? Resolve(string urlPath, out int status, out string? reason)
    {
        status = 400;
        if (!TryDecode(urlPath, out string? decoded, out reason)) return null;
        var segments = decoded!.Split('/');
        var parts = new List<string>(segments.Length);
        // segments[0] is the empty string before the leading '/'; an empty last one means "this folder's index.html".
        for (int i = 1; i < segments.Length; i++)
        {
            string s = segments[i];
            if (s.Length == 0)
            {
                if (i == segments.Length - 1) break;
                reason = "empty path segment";
                return null;
            }
            if (s is "." or "..")
            {
                reason = "'.' and '..' are not allowed in file paths";
                return null;
            }
            if (s[0] == '.')
            {
                // Dot-files (.git, .env) are never published by accident.
                status = 404;
                reason = "no such file";
                return null;
            }
            parts.Add(s);
        }
        if (decoded.EndsWith('/')) parts.Add("index.html");

        status = 404;
        reason = "no such file";
        string? real = RealPath(Path.Join(_root, Path.Join(parts.ToArray())));
        if (real is null || !File.Exists(real)) return null;
        if (!real.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            status = 403;
            reason = "the file lies outside the static files folder";
            return null;
        }
        return real;
    }

    /// <summary>Percent-decodes once, as UTF-8; refuses escapes of '/', '\' and NUL, raw backslashes, and malformed escapes.</summary>
    private static bool TryDecode(string path, out string? decoded, out string? reason)
    {
        decoded = null;
        if (path.Contains('\\'))
        {
            reason = "backslashes are not allowed in file paths";
            return false;
        }
        var bytes = new List<byte>(path.Length);
        for (int i = 0; i < path.Length; i++)
        {
            char c = path[i];
            if (c != '%')
            {
                bytes.Add((byte)c); // the parser admits only visible ASCII in the target
                continue;
            }
            if (i + 2 >= path.Length || !byte.TryParse(path.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            {
                reason = "malformed percent-escape";
                return false;
            }
            if (b is (byte)'/' or (byte)'\\' or 0)
            {
                reason = "encoded '/', '\\' or NUL in the path";
                return false;
            }
            bytes.Add(b);
            i += 2;
        }
        try
        {
            decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            reason = "the path is not valid UTF-8";
            return false;
        }
        if (decoded.Any(char.IsControl))
        {
            reason = "control characters in the path";
            return false;
        }
        reason = null;
        return true;
    }

    /// <summary>
    /// The path with every symlink followed (as realpath(3)), or null if some part does not exist or the links loop.
    /// Each link's target replaces it and is walked again, so a link to a path through another link is resolved too.
    /// </summary>
    internal static string? RealPath(string absolute)
    {
        var pending = new Stack<string>();
        Push(pending, absolute);
        string current = Path.GetPathRoot(absolute) ?? "/";
        int links = 0;
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (part.Length == 0 || part == ".") continue;
            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }
            string next = Path.Join(current, part);
            var info = new FileInfo(next);
            if (info.LinkTarget is { } target)
            {
                if (++links > MaxSymlinks) return null;
                if (Path.IsPathRooted(target)) current = Path.GetPathRoot(target) ?? "/";
                Push(pending, target);
                continue;
            }
            if (!info.Exists && !Directory.Exists(next)) return null;
            current = next;
        }
        return current;
    }

    private static void Push(Stack<string> pending, string path)
    {
        var parts = path.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        for (int i = parts.Length - 1; i >= 0; i--) pending.Push(parts[i]);
    }

    private static bool Matches(string ifNoneMatch, string etag)
    {
        foreach (var raw in ifNoneMatch.Split(','))
        {
            string candidate = raw.Trim();
            if (candidate == "*") return true;
            if (candidate.StartsWith("W/", StringComparison.Ordinal)) candidate = candidate[2..]; // weak comparison (RFC 9110 13.1.2)
            if (candidate == etag) return true;
        }
        return false;
    }

    private static void WriteHead(PipeWriter output, int status, string contentType, long? length, string etag, DateTime lastModified)
    {
        var head = new StringBuilder(256);
        head.Append(status == 304 ? "HTTP/1.1 304 Not Modified\r\n" : "HTTP/1.1 200 OK\r\n");
        if (length is { } n)
            head.Append("Content-Type: ").Append(contentType).Append("\r\nContent-Length: ").Append(n.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        head.Append("ETag: ").Append(etag).Append("\r\nLast-Modified: ").Append(lastModified.ToString("R", CultureInfo.InvariantCulture));
        // no-cache: browsers may keep the file but ask again (If-None-Match) each time, so a rebuilt demo shows at once.
        head.Append("\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n");
        string text = head.ToString();
        int written = Encoding.ASCII.GetBytes(text, output.GetSpan(text.Length));
        output.Advance(written);
    }

    private Task RefuseAsync(GatewayConnection connection, HttpRequestHead request, int status, string reason, bool headOnly, IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        _metrics.StaticFileRefused();
        if (_metrics.LogBudget.Allow(_log, LogLevel.Information)) Log.StaticFileRefused(_log, connection.Id, request.Path, status, reason);
        return WriteAndCloseAsync(connection, status, reason + "\n", headOnly, headers);
    }

    private async Task WriteAndCloseAsync(GatewayConnection connection, int status, string body, bool headOnly, IEnumerable<KeyValuePair<string, string>>? headers)
    {
        var output = connection.Transport.Output;
        HttpResponse.Write(output, status, body, headers: headers, includeBody: !headOnly);
        await output.FlushAsync().ConfigureAwait(false);
        await LingeringClose.RunAsync(connection, output.CompleteAsync(), _options.Timeouts.Close).ConfigureAwait(false);
    }

    internal static string ContentType(string file) => Path.GetExtension(file).ToLowerInvariant() switch
    {
        ".html" or ".htm" => "text/html; charset=utf-8",
        ".js" or ".mjs" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".json" or ".map" => "application/json; charset=utf-8",
        ".txt" => "text/plain; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        ".jpg" or ".jpeg" => "image/jpeg",
        ".gif" => "image/gif",
        ".webp" => "image/webp",
        ".ico" => "image/x-icon",
        ".wasm" => "application/wasm",
        ".woff" => "font/woff",
        ".woff2" => "font/woff2",
        _ => "application/octet-stream",
    };
}
