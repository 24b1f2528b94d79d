// The runtime's floor for one idle TCP connection on Linux (perf/README.md, "Profile and limits", idle connection):
// what a server that only accepts and waits pays per connection, with nothing of the gateway in it.
// Usage (from the repository root):
//   dotnet run perf/idle/socket-floor.cs -- [connections=5000]
// The program starts itself again as the server (a child process, so the client's sockets are not in its RSS).
// The server accepts N connections and parks each on one zero-byte ReceiveAsync (as the gateway's idle connection
// does); its GC heap and VmRSS are read before the first connection and after the last (each after a full GC).
// Modes, one server process each:
//   receive       Socket + one pending zero-byte ReceiveAsync
//   receive-send  the same after one 1-byte SendAsync (the runtime then keeps a second SocketAsyncEventArgs)
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

if (args.Length >= 3 && args[0] == "--server") return await Server(args[1], int.Parse(args[2]));

int count = args.Length > 0 ? int.Parse(args[0]) : 5000;
string self = Environment.ProcessPath!;
string? script = Environment.GetCommandLineArgs().FirstOrDefault(a => a.EndsWith(".dll", StringComparison.Ordinal));
Console.WriteLine("| mode | connections | managed heap per connection | RSS per connection |");
Console.WriteLine("|---|---:|---:|---:|");
foreach (var mode in new[] { "receive", "receive-send", "receive", "receive-send" })
{
    var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardInput = true };
    if (script is not null && !self.EndsWith(Path.GetFileNameWithoutExtension(script), StringComparison.Ordinal)) psi.ArgumentList.Add(script);
    foreach (var a in new[] { "--server", mode, count.ToString() }) psi.ArgumentList.Add(a);
    using var server = Process.Start(psi)!;
    int port = int.Parse(server.StandardOutput.ReadLine()!);
    var sockets = new List<Socket>(count);
    for (int i = 0; i < count; i++)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Connect(IPAddress.Loopback, port);
        sockets.Add(s);
    }
    string result = server.StandardOutput.ReadLine()!; // the server reports once it has accepted them all
    Console.WriteLine($"| {mode} | {count:N0} | {result}");
    server.StandardInput.WriteLine();
    server.WaitForExit(30_000);
    foreach (var s in sockets) s.Dispose();
}
return 0;

static async Task<int> Server(string mode, int count)
{
    using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    listener.Listen(1024);
    var held = new List<Socket>(count);
    var pending = new List<Task>(count);
    // Warm up the accept and receive paths first, so JIT and the engine's first allocations are in "before".
    (long heap0, long rss0) = Measure();
    Console.WriteLine(((IPEndPoint)listener.LocalEndPoint!).Port);
    for (int i = 0; i < count; i++)
    {
        var s = await listener.AcceptAsync();
        if (mode == "receive-send") await s.SendAsync(new byte[] { 0 }, SocketFlags.None);
        pending.Add(s.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).AsTask());
        held.Add(s);
        if (i == 0) (heap0, rss0) = Measure(); // after the first: one-time costs (JIT, the engine's thread) excluded
    }
    (long heap1, long rss1) = Measure();
    int n = count - 1;
    Console.WriteLine($"{(heap1 - heap0) / (double)n:N0} B | {(rss1 - rss0) / (double)n / 1024:N2} KiB |");
    Console.ReadLine();
    GC.KeepAlive(pending);
    foreach (var s in held) s.Dispose();
    return 0;
}

static (long Heap, long Rss) Measure()
{
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    GC.WaitForPendingFinalizers();
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    long heap = GC.GetTotalMemory(false);
    long rss = 0;
    foreach (var line in File.ReadLines("/proc/self/status"))
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    return (heap, rss);
}
