using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Gateway.Server.Tests;

/// <summary>
/// Gateway:Telemetry:Otlp: the real host pushes its metrics over OTLP http/protobuf to a receiver in this test
/// (a TcpListener on 127.0.0.1, port 0, answering each POST with 200), and refuses a wrong endpoint or protocol at start.
/// </summary>
public sealed class OtlpExportTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>A minimal HTTP/1.1 receiver: every request's path and body, in order.</summary>
    private sealed class Receiver : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;
        public Channel<(string Method, string Path, string ContentType, byte[] Body)> Requests { get; } = Channel.CreateUnbounded<(string, string, string, byte[])>();

        public Receiver()
        {
            _listener.Start();
            _accepting = Task.Run(AcceptAsync);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        private async Task AcceptAsync()
        {
            var connections = new List<Task>();
            try
            {
                while (!_stop.IsCancellationRequested) connections.Add(ServeAsync(await _listener.AcceptTcpClientAsync(_stop.Token)));
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException) { }
            await Task.WhenAll(connections).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
        }

        private async Task ServeAsync(TcpClient client)
        {
            using var _ = client;
            var stream = client.GetStream();
            var buffer = new List<byte>();
            var chunk = new byte[16 * 1024];
            try
            {
                for (int requests = 0; requests < 1000 && !_stop.IsCancellationRequested; requests++)
                {
                    int headEnd;
                    while ((headEnd = IndexOf(buffer, "\r\n\r\n"u8)) < 0)
                    {
                        int n = await stream.ReadAsync(chunk, _stop.Token);
                        if (n == 0) return;
                        buffer.AddRange(chunk.AsSpan(0, n).ToArray());
                    }
                    var head = Encoding.ASCII.GetString(buffer.GetRange(0, headEnd).ToArray()).Split("\r\n");
                    var headers = head.Skip(1).Select(h => h.Split(':', 2)).ToDictionary(h => h[0].Trim(), h => h[1].Trim(), StringComparer.OrdinalIgnoreCase);
                    int length = headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl, System.Globalization.CultureInfo.InvariantCulture) : 0;
                    if (headers.TryGetValue("Expect", out var expect) && expect.Equals("100-continue", StringComparison.OrdinalIgnoreCase))
                        await stream.WriteAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray(), _stop.Token);
                    while (buffer.Count < headEnd + 4 + length)
                    {
                        int n = await stream.ReadAsync(chunk, _stop.Token);
                        if (n == 0) return;
                        buffer.AddRange(chunk.AsSpan(0, n).ToArray());
                    }
                    var body = buffer.GetRange(headEnd + 4, length).ToArray();
                    buffer.RemoveRange(0, headEnd + 4 + length);
                    var requestLine = head[0].Split(' ');
                    Requests.Writer.TryWrite((requestLine[0], requestLine[1], headers.GetValueOrDefault("Content-Type", ""), body));
                    await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), _stop.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException) { }
        }

        private static int IndexOf(List<byte> buffer, ReadOnlySpan<byte> pattern)
        {
            for (int i = 0; i + pattern.Length <= buffer.Count; i++)
            {
                int j = 0;
                while (j < pattern.Length && buffer[i + j] == pattern[j]) j++;
                if (j == pattern.Length) return i;
            }
            return -1;
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            try { await _accepting.WaitAsync(TimeSpan.FromSeconds(10)); } catch (TimeoutException) { }
            _stop.Dispose();
        }
    }

    [Fact]
    public async Task The_host_pushes_the_gateway_meter_over_OTLP_http_protobuf()
    {
        await using var receiver = new Receiver();
        using var host = HostProcess.Start(
            "--Gateway:Listen:0=127.0.0.1:0",
            $"--Gateway:Telemetry:Otlp:Endpoint=http://127.0.0.1:{receiver.Port}",
            "--Gateway:Telemetry:Otlp:Protocol=http/protobuf",
            "--Gateway:Telemetry:Otlp:ExportInterval=00:00:00.500");
        int port = await host.BoundPortAsync(Timeout);
        // A connection, so the gateway's counters have something to say.
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{port}/healthz")).StatusCode);

        // Exports come every 500 ms; the first may predate the meter's first figures: read them until one has them (bounded).
        using var cts = new CancellationTokenSource(Timeout);
        string? body = null;
        var paths = new List<string>();
        try
        {
            for (int i = 0; i < 200; i++)
            {
                var request = await receiver.Requests.Reader.ReadAsync(cts.Token);
                paths.Add($"{request.Method} {request.Path} ({request.ContentType}, {request.Body.Length} bytes)");
                Assert.Equal("POST", request.Method);
                Assert.Equal("/v1/metrics", request.Path);
                Assert.Equal("application/x-protobuf", request.ContentType);
                // Protobuf keeps strings as UTF-8 bytes: the scope (meter) name and the instrument names are readable.
                string text = Encoding.UTF8.GetString(request.Body);
                if (text.Contains("gateway.connections.accepted", StringComparison.Ordinal)) { body = text; break; }
            }
        }
        catch (OperationCanceledException) { }
        Assert.True(body is not null, $"no export with the gateway meter within {Timeout.TotalSeconds} s; requests: {string.Join("; ", paths)}\n{host.Describe()}");
        Assert.Contains(GatewayMetrics.MeterName, body);
        Assert.Contains("gateway.websocket.upgrades", body);
        Assert.Contains("Open TCP connections.", body);   // the row's help, as the instrument's description
        Assert.Contains("dotnet.gc.collections", body);   // the runtime's meter, for the dotnet_* lines of /metrics
        Assert.Contains("service.name", body);
        Assert.Contains("gateway", body);
    }

    [Fact]
    public async Task The_host_pushes_a_span_per_call_over_OTLP_with_the_clients_trace_id()
    {
        await using var receiver = new Receiver();
        string root = Path.Combine(Path.GetTempPath(), "gateway-otlp-traces-" + Guid.NewGuid().ToString("N"));
        try
        {
            // The batch processor's delay (5 s by default) shortened through its standard variable, so the test is quick.
            using var host = HostProcess.Start(new Dictionary<string, string> { ["OTEL_BSP_SCHEDULE_DELAY"] = "200" },
                "--Gateway:Listen:0=127.0.0.1:0",
                "--Gateway:Plugins:Path=" + HostProcess.SamplePluginsFolder(root),
                $"--Gateway:Telemetry:Otlp:Endpoint=http://127.0.0.1:{receiver.Port}",
                "--Gateway:Telemetry:Otlp:Protocol=http/protobuf");
            int port = await host.BoundPortAsync(Timeout);
            var trace = System.Diagnostics.ActivityTraceId.CreateRandom();
            var parent = System.Diagnostics.ActivitySpanId.CreateRandom();
            await using (var client = await Gateway.Tests.Shared.RpcClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws")))
            {
                await client.SendTextAsync($$$"""{"id":"o1","path":"echo/echo","input":"secret-payload","meta":{"traceparent":"00-{{{trace.ToHexString()}}}-{{{parent.ToHexString()}}}-01"}}""");
                Assert.Equal("secret-payload", Gateway.Tests.Shared.Json.Str(await client.NextAsync(Gateway.Tests.Shared.RpcClient.Key("o1")), "result"));
            }

            // Protobuf keeps ids as raw bytes and strings as UTF-8: the span is found by the client's trace id.
            byte[] traceBytes = Convert.FromHexString(trace.ToHexString());
            byte[] parentBytes = Convert.FromHexString(parent.ToHexString());
            using var cts = new CancellationTokenSource(Timeout);
            byte[]? span = null;
            var paths = new List<string>();
            try
            {
                for (int i = 0; i < 200 && span is null; i++)
                {
                    var request = await receiver.Requests.Reader.ReadAsync(cts.Token);
                    paths.Add($"{request.Method} {request.Path} ({request.Body.Length} bytes)");
                    if (request.Path == "/v1/traces" && request.Body.AsSpan().IndexOf(traceBytes) >= 0) span = request.Body;
                }
            }
            catch (OperationCanceledException) { }
            Assert.True(span is not null, $"no /v1/traces export with the client's trace id within {Timeout.TotalSeconds} s; requests: {string.Join("; ", paths)}\n{host.Describe()}");
            Assert.True(span.AsSpan().IndexOf(parentBytes) >= 0, "the client's span is the parent");
            string text = Encoding.UTF8.GetString(span);
            Assert.Contains("echo/echo", text);
            Assert.Contains("rpc.system", text);
            Assert.Contains("gateway.connection.id", text);
            Assert.Contains("gateway.rpc.code", text);
            Assert.DoesNotContain("secret-payload", text);   // never the payload
            Assert.Contains("service.name", text);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    [Fact]
    public async Task Without_an_endpoint_nothing_of_OpenTelemetry_is_even_loaded()
    {
        using var plain = HostProcess.Start("--Gateway:Listen:0=127.0.0.1:0");
        using var exporting = HostProcess.Start("--Gateway:Listen:0=127.0.0.1:0", "--Gateway:Telemetry:Otlp:Endpoint=http://127.0.0.1:9");
        await plain.BoundPortAsync(Timeout);
        await exporting.BoundPortAsync(Timeout);
        // The assemblies mapped into each process (Linux): the OpenTelemetry ones only where an export is configured.
        static int Mapped(HostProcess p) => File.ReadAllLines($"/proc/{p.Id}/maps").Count(l => l.Contains("/OpenTelemetry", StringComparison.Ordinal));
        Assert.Equal(0, Mapped(plain));
        Assert.True(Mapped(exporting) > 0, "the exporting host maps the OpenTelemetry assemblies (the check can see them)");
    }

    [Theory]
    [InlineData("--Gateway:Telemetry:Otlp:Endpoint=collector:4317", "Gateway:Telemetry:Otlp:Endpoint must be an absolute http:// or https:// URL")]
    [InlineData("--Gateway:Telemetry:Otlp:Protocol=http/json", "Gateway:Telemetry:Otlp:Protocol must be one of grpc, http/protobuf (got 'http/json')")]
    [InlineData("--Gateway:Telemetry:Otlp:ExportInterval=00:00:00.010", "Gateway:Telemetry:Otlp:ExportInterval must be between 00:00:00.1000000 and 01:00:00")]
    public async Task A_wrong_OTLP_setting_exits_2_naming_the_key(string arg, string expected)
    {
        using var host = HostProcess.Start("--Gateway:Listen:0=127.0.0.1:0", "--Gateway:Telemetry:Otlp:Endpoint=http://127.0.0.1:4318", arg);
        Assert.True(await host.WaitForExitAsync(Timeout), host.Describe());
        Assert.True(host.ExitCode == 2, host.Describe());
        Assert.Contains(expected, host.StdErr);
    }
}
