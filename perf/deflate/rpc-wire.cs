// Requests/s and bytes on the wire for echo/echo with ~1 KiB of realistic JSON, compressed vs not (perf/README.md,
// "Compression"). An indication until the load tool speaks permessage-deflate: the client here is .NET's
// ClientWebSocket (DangerousDeflateOptions when compressing), which compresses and inflates on the client's core too.
// Usage (repository root, after `make build plugins`):  dotnet run perf/deflate/rpc-wire.cs -- [connections=16] [seconds=8]
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.RegularExpressions;

int connections = args.Length > 0 ? int.Parse(args[0]) : 16;
int seconds = args.Length > 1 ? int.Parse(args[1]) : 8;
string root = Directory.GetCurrentDirectory();
string host = Path.Combine(root, "src/Gateway.Host/bin/Release/net10.0/Gateway.Host.dll");
string plugins = Path.Combine(root, "plugins");
if (!File.Exists(host) || !Directory.Exists(plugins)) { Console.Error.WriteLine("run make build plugins first"); return 2; }
string input = Input(1024);
Console.WriteLine($"| mode | requests/s | client→server bytes/request | server→client bytes/request |");
Console.WriteLine("|---|---:|---:|---:|");
foreach (bool deflate in new[] { false, true, false, true })
{
    int port = FreePort();
    var psi = new ProcessStartInfo("taskset") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
    foreach (var a in new[] { "-c", "0", "dotnet", host, $"--Gateway:Listen:0=127.0.0.1:{port}", $"--Gateway:Plugins:Path={plugins}",
        "--Samples:Ticker:Enabled=false", "--Serilog:MinimumLevel:Default=Warning" }) psi.ArgumentList.Add(a);
    using var server = Process.Start(psi)!;
    _ = server.StandardOutput.ReadToEndAsync();
    _ = server.StandardError.ReadToEndAsync();
    try
    {
        await WaitForPortAsync(port);
        var uri = new Uri($"ws://127.0.0.1:{port}/ws");
        var sockets = new List<ClientWebSocket>();
        for (int i = 0; i < connections; i++)
        {
            var ws = new ClientWebSocket();
            ws.Options.AddSubProtocol("gateway.v1.json");
            if (deflate) ws.Options.DangerousDeflateOptions = new WebSocketDeflateOptions();
            await ws.ConnectAsync(uri, default);
            sockets.Add(ws);
        }
        var warm = DateTime.UtcNow.AddSeconds(2);
        await Task.WhenAll(sockets.Select(ws => RunAsync(ws, input, warm, null)));
        var before = await MetricsAsync(port);
        long count = 0;
        var end = DateTime.UtcNow.AddSeconds(seconds);
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(sockets.Select(ws => RunAsync(ws, input, end, () => Interlocked.Increment(ref count))));
        double elapsed = sw.Elapsed.TotalSeconds;
        var after = await MetricsAsync(port);
        double d(string k) => after.GetValueOrDefault(k) - before.GetValueOrDefault(k);
        // Bytes on the wire: payload bytes as counted, less what compression saved (plus frame headers, not counted here).
        double inWire = d("gateway_received_bytes_total") - d("gateway_decompression_output_bytes_total") + d("gateway_decompression_input_bytes_total");
        double outWire = d("gateway_sent_bytes_total") - d("gateway_compression_input_bytes_total") + d("gateway_compression_output_bytes_total");
        Console.WriteLine($"| {(deflate ? "permessage-deflate" : "plain")} | {count / elapsed:F0} | {inWire / count:F0} | {outWire / count:F0} |");
        foreach (var ws in sockets) ws.Abort();
    }
    finally
    {
        server.Kill(entireProcessTree: true);
        await server.WaitForExitAsync();
    }
}
return 0;

static async Task RunAsync(ClientWebSocket ws, string input, DateTime until, Action? counted)
{
    var buffer = new byte[64 * 1024];
    int id = 0;
    while (DateTime.UtcNow < until)
    {
        var request = Encoding.UTF8.GetBytes($"{{\"id\":{++id},\"path\":\"echo/echo\",\"input\":{input}}}");
        await ws.SendAsync(request, WebSocketMessageType.Text, true, default);
        ValueWebSocketReceiveResult r;
        int n = 0;
        do { r = await ws.ReceiveAsync(buffer.AsMemory(n), default); n += r.Count; } while (!r.EndOfMessage);
        counted?.Invoke();
    }
}

static async Task<Dictionary<string, double>> MetricsAsync(int port)
{
    using var http = new HttpClient();
    var text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
    var result = new Dictionary<string, double>();
    foreach (Match m in Regex.Matches(text, @"^(gateway_[a-z_]+) ([0-9.e+]+)$", RegexOptions.Multiline)) result[m.Groups[1].Value] = double.Parse(m.Groups[2].Value);
    return result;
}

static string Input(int size)
{
    var sb = new StringBuilder("{\"messages\":[");
    string[] users = ["ada", "grace", "linus", "margaret", "ken"];
    string[] words = ["deploy", "the", "gateway", "tonight", "after", "review", "tests", "green", "latency", "looks", "fine"];
    var rng = new Random(7);
    for (int i = 0; sb.Length < size - 100; i++)
    {
        sb.Append(i == 0 ? "" : ",").Append("{\"id\":").Append(1000 + i).Append(",\"from\":\"").Append(users[rng.Next(users.Length)]).Append("\",\"text\":\"");
        for (int w = 0; w < 6; w++) sb.Append(w == 0 ? "" : " ").Append(words[rng.Next(words.Length)]);
        sb.Append("\"}");
    }
    return sb.Append("]}").ToString();
}

static int FreePort()
{
    var l = new TcpListener(IPAddress.Loopback, 0);
    l.Start();
    int port = ((IPEndPoint)l.LocalEndpoint).Port;
    l.Stop();
    return port;
}

static async Task WaitForPortAsync(int port)
{
    var deadline = DateTime.UtcNow.AddSeconds(30);
    while (DateTime.UtcNow < deadline)
    {
        try { using var c = new TcpClient(); await c.ConnectAsync(IPAddress.Loopback, port); return; }
        catch (SocketException) { await Task.Delay(100); }
    }
    throw new TimeoutException("the gateway did not start listening");
}
