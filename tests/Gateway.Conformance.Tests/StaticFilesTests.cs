using System.Text;
using Gateway.Server.Options;
using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>
/// Gateway:StaticFiles:Path over raw sockets: GET/HEAD only, content types, ETag and 304, index.html but no listing,
/// no way out of the root (.., encoded slashes and backslashes, NUL, symlinks), never in front of the probes or the
/// WebSocket endpoint, and the same connection limits as an upgrade.
/// </summary>
public sealed class StaticFilesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "gateway-static-" + Guid.NewGuid().ToString("N"));
    private readonly string _root;
    private readonly string _outside;

    public StaticFilesTests()
    {
        _root = Path.Combine(_dir, "www");
        _outside = Path.Combine(_dir, "outside");
        Directory.CreateDirectory(Path.Combine(_root, "sub"));
        Directory.CreateDirectory(Path.Combine(_root, "empty"));
        Directory.CreateDirectory(_outside);
        File.WriteAllText(Path.Combine(_root, "index.html"), "<h1>home</h1>");
        File.WriteAllText(Path.Combine(_root, "app.js"), "console.log(1);");
        File.WriteAllText(Path.Combine(_root, "style.css"), "body{}");
        File.WriteAllText(Path.Combine(_root, "data.bin"), "raw");
        File.WriteAllText(Path.Combine(_root, "caf\u00e9.txt"), "accent");
        File.WriteAllText(Path.Combine(_root, ".env"), "SECRET=1");
        File.WriteAllText(Path.Combine(_root, "sub", "index.html"), "<p>sub</p>");
        File.WriteAllText(Path.Combine(_root, "sub", "page.html"), "<p>page</p>");
        // Files named like the reserved paths and the endpoint: they must never answer in their place.
        File.WriteAllText(Path.Combine(_root, "healthz"), "file, not the probe");
        File.WriteAllText(Path.Combine(_root, "echo"), "file, not the endpoint");
        File.WriteAllText(Path.Combine(_outside, "secret.txt"), "outside the root");
        File.CreateSymbolicLink(Path.Combine(_root, "leak.txt"), Path.Combine(_outside, "secret.txt"));
        Directory.CreateSymbolicLink(Path.Combine(_root, "out"), "../outside"); // relative target, resolved from www/
        File.CreateSymbolicLink(Path.Combine(_root, "alias.html"), "sub/page.html");
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private Task<TestGateway> StartAsync(Action<GatewayOptions>? more = null) =>
        TestGateway.StartAsync(o => { o.StaticFiles.Path = _root; more?.Invoke(o); });

    private static async Task<(int Status, string Head, string Body)> RequestAsync(TestGateway gw, string target, string method = "GET", string extraHeaders = "")
    {
        await using var c = await RawClient.ConnectAsync(gw.EndPoint);
        await c.SendAsync($"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extraHeaders}\r\n");
        var (status, head) = await c.ReadHttpHeadAsync(Normal);
        string body = await c.ReadToEndAsync(Normal);
        return (status, head, body);
    }

    private static string Header(string head, string name) =>
        head.Split("\r\n").Select(l => l.Split(": ", 2)).Where(p => p.Length == 2 && p[0].Equals(name, StringComparison.OrdinalIgnoreCase)).Select(p => p[1]).SingleOrDefault()
        ?? throw new Xunit.Sdk.XunitException($"no {name} header in:\n{head}");

    [Fact]
    public async Task Off_by_default_every_unknown_path_stays_404()
    {
        await using var gw = await TestGateway.StartAsync();
        var (status, _, body) = await RequestAsync(gw, "/index.html");
        Assert.Equal(404, status);
        Assert.StartsWith("no endpoint at /index.html", body);
    }

    [Theory]
    [InlineData("/index.html", "text/html; charset=utf-8", "<h1>home</h1>")]
    [InlineData("/", "text/html; charset=utf-8", "<h1>home</h1>")]
    [InlineData("/sub/", "text/html; charset=utf-8", "<p>sub</p>")]
    [InlineData("/app.js", "text/javascript; charset=utf-8", "console.log(1);")]
    [InlineData("/style.css", "text/css; charset=utf-8", "body{}")]
    [InlineData("/data.bin", "application/octet-stream", "raw")]
    [InlineData("/caf%C3%A9.txt", "text/plain; charset=utf-8", "accent")]
    [InlineData("/alias.html?v=2", "text/html; charset=utf-8", "<p>page</p>")]
    public async Task Get_serves_the_file_with_its_content_type_length_and_etag(string target, string contentType, string content)
    {
        await using var gw = await StartAsync();
        var (status, head, body) = await RequestAsync(gw, target);
        Assert.Equal(200, status);
        Assert.Equal(content, body);
        Assert.Equal(contentType, Header(head, "Content-Type"));
        Assert.Equal(Encoding.UTF8.GetByteCount(content).ToString(), Header(head, "Content-Length"));
        Assert.Matches("^\"[0-9a-f]+-[0-9a-f]+\"$", Header(head, "ETag"));
        Assert.Equal("nosniff", Header(head, "X-Content-Type-Options"));
    }

    [Fact]
    public async Task Head_sends_the_headers_without_the_body()
    {
        await using var gw = await StartAsync();
        var (status, head, body) = await RequestAsync(gw, "/app.js", "HEAD");
        Assert.Equal(200, status);
        Assert.Equal("15", Header(head, "Content-Length"));
        Assert.Equal("", body);
    }

    [Fact]
    public async Task If_none_match_with_the_etag_is_304_without_a_body_and_a_changed_file_is_200_again()
    {
        await using var gw = await StartAsync();
        var (_, head, _) = await RequestAsync(gw, "/index.html");
        string etag = Header(head, "ETag");

        var (status, head304, body) = await RequestAsync(gw, "/index.html", extraHeaders: $"If-None-Match: \"nope\", W/{etag}\r\n");
        Assert.Equal(304, status);
        Assert.Equal("", body);
        Assert.Equal(etag, Header(head304, "ETag"));

        Assert.Equal(200, (await RequestAsync(gw, "/index.html", extraHeaders: "If-None-Match: \"other\"\r\n")).Status);

        File.WriteAllText(Path.Combine(_root, "index.html"), "<h1>home, rebuilt</h1>");
        File.SetLastWriteTimeUtc(Path.Combine(_root, "index.html"), DateTime.UtcNow.AddMinutes(1));
        var (again, _, newBody) = await RequestAsync(gw, "/index.html", extraHeaders: $"If-None-Match: {etag}\r\n");
        Assert.Equal(200, again);
        Assert.Equal("<h1>home, rebuilt</h1>", newBody);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("OPTIONS")]
    public async Task Other_methods_are_405_with_allow(string method)
    {
        await using var gw = await StartAsync();
        var (status, head, _) = await RequestAsync(gw, "/index.html", method, "Content-Length: 0\r\n");
        Assert.Equal(405, status);
        Assert.Equal("GET, HEAD", Header(head, "Allow"));
    }

    [Theory]
    [InlineData("/../outside/secret.txt", 400)]
    [InlineData("/sub/../../outside/secret.txt", 400)]
    [InlineData("/%2e%2e/outside/secret.txt", 400)]
    [InlineData("/sub/%2E%2E/index.html", 400)]
    [InlineData("/sub%2f..%2f..%2foutside%2fsecret.txt", 400)]
    [InlineData("/sub%2Fpage.html", 400)]
    [InlineData("/..%5coutside%5csecret.txt", 400)]
    [InlineData("/sub\\page.html", 400)]
    [InlineData("/index.html%00.js", 400)]
    [InlineData("/%zz", 400)]
    [InlineData("/%c3", 400)]
    [InlineData("/%0aindex.html", 400)]
    [InlineData("/sub//page.html", 400)]
    [InlineData("/./index.html", 400)]
    [InlineData("/.env", 404)]
    [InlineData("/leak.txt", 403)]
    [InlineData("/out/secret.txt", 403)]
    [InlineData("/nothing.html", 404)]
    public async Task No_path_leads_out_of_the_root(string target, int expected)
    {
        await using var gw = await StartAsync();
        var (status, _, body) = await RequestAsync(gw, target);
        Assert.Equal(expected, status);
        Assert.DoesNotContain("outside the root", body);
        Assert.DoesNotContain("SECRET", body);
        var metrics = (await RequestAsync(gw, "/metrics")).Body;
        Assert.Contains("gateway_static_files_refused_total 1\n", metrics);
    }

    [Theory]
    [InlineData("/sub")]
    [InlineData("/empty/")]
    [InlineData("/empty")]
    public async Task Folders_are_never_listed(string target)
    {
        await using var gw = await StartAsync();
        var (status, _, body) = await RequestAsync(gw, target);
        Assert.Equal(404, status);
        Assert.DoesNotContain("page.html", body);
    }

    [Fact]
    public async Task Probes_and_the_websocket_endpoint_are_never_shadowed_by_files()
    {
        await using var gw = await StartAsync();
        Assert.Equal("ok\n", (await RequestAsync(gw, "/healthz")).Body);
        // A plain GET of the endpoint path is a failed handshake, not the file called "echo".
        var (status, _, body) = await RequestAsync(gw, "/echo");
        Assert.NotEqual(200, status);
        Assert.DoesNotContain("file, not the endpoint", body);
        await using var ws = await RawClient.OpenAsync(gw.EndPoint, "/echo");
        await ws.SendTextAsync("hi");
        AssertFrame(await ws.ReadFrameAsync(Normal), Text, "hi"u8.ToArray());
        // An upgrade to a path that is a file is refused as an unknown endpoint, not answered with the file.
        await using var c = await RawClient.ConnectAsync(gw.EndPoint);
        await c.SendAsync(RawClient.UpgradeRequest("/index.html"));
        var (upgradeStatus, _) = await c.ReadHttpHeadAsync(Normal);
        Assert.Equal(404, upgradeStatus);
    }

    [Fact]
    public async Task The_per_address_connection_limit_applies_to_files_too()
    {
        await using var gw = await StartAsync(o => o.Limits.MaxConnectionsPerIp = 1);
        // The held connection first: a finished request's slot is released a moment after its socket closes.
        await using var held = await RawClient.OpenAsync(gw.EndPoint, "/echo");
        var (status, head, _) = await RequestAsync(gw, "/index.html");
        Assert.Equal(503, status);
        Assert.Equal("5", Header(head, "Retry-After"));
    }

    [Fact]
    public async Task A_large_file_arrives_whole()
    {
        var text = new StringBuilder();
        for (int i = 0; text.Length < 600_000; i++) text.Append(i).Append('\n');
        File.WriteAllText(Path.Combine(_root, "big.txt"), text.ToString());
        await using var gw = await StartAsync();
        var (status, head, body) = await RequestAsync(gw, "/big.txt");
        Assert.Equal(200, status);
        Assert.Equal(text.Length.ToString(), Header(head, "Content-Length"));
        Assert.Equal(text.ToString(), body);
    }

    [Fact]
    public void The_path_must_be_an_existing_folder()
    {
        var missing = new GatewayOptions();
        missing.StaticFiles.Path = Path.Combine(_dir, "no-such-folder");
        var error = Assert.Single(GatewayOptionsValidator.Collect(missing), e => e.Contains("StaticFiles"));
        Assert.StartsWith("Gateway:StaticFiles:Path must be an existing folder", error);

        var file = new GatewayOptions();
        file.StaticFiles.Path = Path.Combine(_root, "index.html");
        Assert.Contains(GatewayOptionsValidator.Collect(file), e => e.StartsWith("Gateway:StaticFiles:Path", StringComparison.Ordinal));

        var fine = new GatewayOptions();
        fine.StaticFiles.Path = _root;
        Assert.DoesNotContain(GatewayOptionsValidator.Collect(fine), e => e.Contains("StaticFiles"));
        Assert.DoesNotContain(GatewayOptionsValidator.Collect(new GatewayOptions()), e => e.Contains("StaticFiles"));
    }
}
