// Idle memory per connection with and without permessage-deflate (perf/README.md, "Compression").
// Usage (from the repository root, after `make build`):
//   dotnet run perf/deflate/idle-rss.cs -- [connections=2000]
// For each mode it starts the built gateway (src/Gateway.Host, echo endpoint, no plugins), opens the connections,
// sends one ~2 KiB JSON message on each (compressed in the deflate modes, so every connection has inflated and
// deflated once) and reads the echo, lets them sit idle, and reads the server's VmRSS from /proc:
//   plain            no Sec-WebSocket-Extensions offer
//   deflate          permessage-deflate with the default configuration (no context takeover either way)
//   deflate-context  Gateway:Compression:ServerContextTakeover and ClientContextTakeover true (each connection keeps a
//                    deflater and an inflater: what a busy connection holds, for comparison)
using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;

int count = args.Length > 0 ? int.Parse(args[0]) : 2000;
string root = Directory.GetCurrentDirectory();
string host = Path.Combine(root, "src/Gateway.Host/bin/Release/net10.0/Gateway.Host.dll");
if (!File.Exists(host)) { Console.Error.WriteLine($"{host} missing: run make build first"); return 2; }
byte[] message = Json(2048);
Console.WriteLine($"| mode | connections | server RSS before | after | per connection |");
Console.WriteLine($"|---|---|---|---|---|");
foreach (var mode in new[] { "plain", "deflate", "deflate-context", "plain", "deflate" })
{
    int port = FreePort();
    var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
    foreach (var a in new[] { host, $"--Gateway:Listen:0=127.0.0.1:{port}", "--Gateway:EchoPath=/echo", "--Gateway:Plugins:Path=/nonexistent-plugins",
        "--Gateway:Timeouts:ClientTimeout=00:10:00", "--Gateway:Timeouts:KeepAliveInterval=00:05:00", "--Serilog:MinimumLevel:Default=Warning",
        $"--Gateway:Compression:ServerContextTakeover={mode == "deflate-context"}", $"--Gateway:Compression:ClientContextTakeover={mode == "deflate-context"}" })
        psi.ArgumentList.Add(a);
    using var server = Process.Start(psi)!;
    _ = server.StandardOutput.ReadToEndAsync();
    _ = server.StandardError.ReadToEndAsync();
    try
    {
        await WaitForPortAsync(port);
        await Task.Delay(1000);
        long before = Rss(server.Id);
        var sockets = new List<Socket>();
        for (int i = 0; i < count; i++) sockets.Add(await OpenAsync(port, mode, message));
        await Task.Delay(3000);
        long after = Rss(server.Id);
        Console.WriteLine($"| {mode} | {count} | {before / 1024.0 / 1024:F1} MiB | {after / 1024.0 / 1024:F1} MiB | {(after - before) / (double)count / 1024:F1} KiB |");
        foreach (var s in sockets) s.Dispose();
    }
    finally
    {
        server.Kill();
        await server.WaitForExitAsync();
    }
}
return 0;

static async Task<Socket> OpenAsync(int port, string mode, byte[] message)
{
    var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    await s.ConnectAsync(IPAddress.Loopback, port);
    string offer = mode == "plain" ? "" : mode == "deflate" ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    await s.SendAsync(Encoding.ASCII.GetBytes($"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"));
    var buffer = new byte[64 * 1024];
    int n = 0;
    while (true)
    {
        n += await s.ReceiveAsync(buffer.AsMemory(n));
        int end = buffer.AsSpan(0, n).IndexOf("\r\n\r\n"u8);
        if (end < 0) continue;
        string head = Encoding.ASCII.GetString(buffer, 0, end);
        if (!head.StartsWith("HTTP/1.1 101")) throw new InvalidOperationException(head);
        if ((mode != "plain") != head.Contains("permessage-deflate")) throw new InvalidOperationException("negotiation: " + head);
        n -= end + 4;
        break;
    }
    byte[] payload = message;
    byte rsv = 0;
    if (mode != "plain")
    {
        var ms = new MemoryStream();
        using (var d = new DeflateStream(ms, CompressionLevel.Fastest, leaveOpen: true)) { d.Write(message); d.Flush(); payload = ms.ToArray()[..^4]; }
        rsv = 0x40;
    }
    var frame = new List<byte> { (byte)(0x81 | rsv) };
    if (payload.Length < 126) frame.Add((byte)(0x80 | payload.Length));
    else { frame.Add(0x80 | 126); frame.Add((byte)(payload.Length >> 8)); frame.Add((byte)payload.Length); }
    frame.AddRange(new byte[4]); // mask key 0: the payload goes as is
    frame.AddRange(payload);
    await s.SendAsync(frame.ToArray());
    // The echo: read its header and payload.
    n = 0;
    while (n < 4) n += await s.ReceiveAsync(buffer.AsMemory(n));
    int len = buffer[1] & 0x7F, header = 2;
    if (len == 126) { len = buffer[2] << 8 | buffer[3]; header = 4; }
    while (n < header + len) n += await s.ReceiveAsync(buffer.AsMemory(n));
    if (mode != "plain" && (buffer[0] & 0x40) == 0) throw new InvalidOperationException("echo was not compressed");
    return s;
}

static long Rss(int pid)
{
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        if (line.StartsWith("VmRSS:")) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    return 0;
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

static byte[] Json(int size)
{
    var sb = new StringBuilder("{\"event\":\"chat.history\",\"data\":[");
    for (int i = 0; sb.Length < size; i++) sb.Append(i == 0 ? "" : ",").Append("{\"id\":").Append(i).Append(",\"from\":\"user-").Append(i % 7).Append("\",\"text\":\"deploy the gateway tonight after review ").Append(i).Append("\"}");
    return Encoding.UTF8.GetBytes(sb.Append("]}").ToString());
}
