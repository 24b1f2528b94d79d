using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gateway.Server.Options;
using Gateway.Tests.Shared;

namespace Gateway.Policy.Tests;

/// <summary>
/// One misbehaving client per row, each with its expected outcome; in every row a well-behaved client connected
/// beforehand gets its RPC replies before, during (while the misbehaviour is in progress) and after.
/// </summary>
public class HostileClientTests
{
    /// <summary>A misbehaviour: the options it needs, and a run that calls <c>during</c> while it is in progress and returns the outcome seen.</summary>
    private sealed record Scenario(Action<GatewayOptions> Configure, Func<PolicyGateway, Func<Task>, Task<string>> Run);

    public static TheoryData<string, string> Rows => new()
    {
        { "unmasked frame", "close 1002" },
        { "reserved opcode", "close 1002" },
        { "invalid UTF-8", "close 1007" },
        { "oversized frame", "close 1009" },
        { "garbage handshake", "http 400" },
        { "slowloris", "dropped without a response" },
        { "ping flood of 10000 pings", "open, 10000 pongs" },
        { "ping flood, never reading the pongs", "pushed back, memory bounded" },
        { "bad-envelope flood", "close 1008" },
        { "rate-limit flood", "close 1008" },
        { "never reading replies", "open, every reply delivered" },
        { "half-open TCP", "close 1001" },
        { "abrupt RST mid-frame", "dropped" },
        { "silent connections held in the handshake beyond MaxConnections", "held at the limit, the rest accepted in turn" },
    };

    private static readonly Dictionary<string, Scenario> Scenarios = new()
    {
        ["unmasked frame"] = new(_ => { }, (gw, during) =>
            AfterUpgradeAsync(gw, during, RawClient.Frame(1, Encoding.UTF8.GetBytes(Wire.Request("u", "t/echo")), mask: false))),

        ["reserved opcode"] = new(_ => { }, (gw, during) =>
            AfterUpgradeAsync(gw, during, RawClient.Frame(3, "reserved"u8))),

        ["invalid UTF-8"] = new(_ => { }, (gw, during) =>
            AfterUpgradeAsync(gw, during, RawClient.Frame(1, [(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)'}']))),

        // Only the header (declaring 1 MiB against a 4 KiB limit) and a few bytes: the server refuses at the header.
        ["oversized frame"] = new(o => o.Limits.MaxMessageBytes = 4096, (gw, during) =>
            AfterUpgradeAsync(gw, during, [.. RawClient.Frame(1, new byte[1 << 20]).AsSpan(0, 14 + 100)])),

        ["garbage handshake"] = new(_ => { }, async (gw, during) =>
        {
            await using var bad = await RawClient.ConnectAsync(gw.EndPoint);
            await bad.SendAsync(Encoding.Latin1.GetBytes("\u0016\u0003\u0001 HELLO garbage \u00ff\u00fe\r\n\r\n"));
            await during();
            var (status, _) = await bad.ReadHttpHeadAsync();
            return $"http {status}";
        }),

        ["slowloris"] = new(o =>
        {
            o.Timeouts.Handshake = TimeSpan.FromMilliseconds(300);
            o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(20);
        }, async (gw, during) =>
        {
            await using var slow = await RawClient.ConnectAsync(gw.EndPoint);
            await slow.SendAsync("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgra");
            await during();
            string got = await slow.ReadToEndAsync(TimeSpan.FromSeconds(5));
            return got.Length == 0 && gw.Metrics.HandshakeTimeouts == 1 ? "dropped without a response" : $"got '{got}', {gw.Metrics.HandshakeTimeouts} handshake timeouts";
        }),

        ["ping flood of 10000 pings"] = new(_ => { }, async (gw, during) =>
        {
            await using var flood = await gw.OpenRawAsync();
            await flood.SendAsync(Wire.Concat(Enumerable.Range(0, 10_000).Select(i => RawClient.Frame(9, BitConverter.GetBytes(i)))));
            await during();
            await flood.SendRequestAsync("after-flood", "t/echo");
            int pongs = 0;
            while (true)
            {
                var f = await flood.ReadFrameAsync();
                if (f.Opcode == 10) pongs++;
                else if (f.Opcode == 1 && Wire.IdOf(Wire.Parse(f.Payload)) == "after-flood") return $"open, {pongs} pongs";
                else return $"unexpected frame opcode {f.Opcode}";
            }
        }),

        // Empty pings as fast as possible (up to 10 million, 60 MB), never reading a pong: the pongs must not pile up.
        ["ping flood, never reading the pongs"] = new(_ => { }, async (gw, during) =>
        {
            var flood = await gw.OpenRawAsync();
            long heapBefore = Wire.HeapAfterGc();
            var batch = Wire.Concat(Enumerable.Range(0, 100_000).Select(_ => RawClient.Frame(9, ReadOnlySpan<byte>.Empty)));
            long sent = 0;
            var writer = Task.Run(async () =>
            {
                try
                {
                    for (int i = 0; i < 100; i++) { await flood.SendAsync(batch); Interlocked.Add(ref sent, 100_000); }
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException or IOException) { }
            });
            long pings = await Wire.WaitForWriterToStallAsync(writer, () => Interlocked.Read(ref sent));
            await during();
            long growth = Wire.HeapAfterGc() - heapBefore;
            bool pushedBack = !writer.IsCompleted;
            await flood.DisposeAsync();
            await writer.WaitAsync(TimeSpan.FromSeconds(15));
            return pushedBack && growth < 40_000_000 ? "pushed back, memory bounded"
                : $"{(pushedBack ? "pushed back" : "never pushed back")} after {pings} pings, heap grew {growth / 1_000_000} MB";
        }),

        ["bad-envelope flood"] = new(_ => { }, async (gw, during) =>
        {
            await using var flood = await gw.OpenRawAsync();
            await flood.SendAsync(Wire.Concat(Enumerable.Range(0, 1_000).Select(i => Wire.TextFrame("{\"bad\":" + i + "}"))));
            await during();
            var (_, code, _, _) = await flood.ReadUntilCloseAsync();
            return $"close {code}";
        }),

        ["rate-limit flood"] = new(o =>
        {
            o.RateLimits.PerConnection = new RateLimitOptions { PermitsPerSecond = 20, Burst = 10 };
            o.RateLimits.MaxRejectionsInRow = 50;
        }, async (gw, during) =>
        {
            await using var flood = await gw.OpenRawAsync();
            await flood.SendAsync(Wire.Concat(Enumerable.Range(0, 1_000).Select(i => Wire.RequestFrame(i, "t/echo"))));
            await during();
            var (_, code, _, _) = await flood.ReadUntilCloseAsync();
            return $"close {code}";
        }),

        // 20,000 requests with 1 KiB inputs (20 MB) written without reading: TCP pushes back; once it reads, all arrive.
        ["never reading replies"] = new(_ => { }, async (gw, during) =>
        {
            const int N = 20_000;
            string input = JsonSerializer.Serialize(new { text = new string('n', 1024) });
            await using var hog = await gw.OpenRawAsync();
            long sent = 0;
            var writer = Task.Run(async () =>
            {
                for (int first = 0; first < N; first += 500)
                {
                    await hog.SendAsync(Wire.Concat(Enumerable.Range(first, 500).Select(i => Wire.RequestFrame(i, "t/echo", input))));
                    Interlocked.Add(ref sent, 500);
                }
            });
            // Wait until the writer stalls (or finishes), then be served while the hog's backlog sits there.
            await Wire.WaitForWriterToStallAsync(writer, () => Interlocked.Read(ref sent));
            await during();
            var seen = new bool[N];
            int answered = 0;
            while (answered < N)
            {
                var f = await hog.ReadFrameAsync(TimeSpan.FromSeconds(30));
                if (f.Opcode != 1) continue;
                var (id, isResult) = InboundBackpressureTests.ReadIdAndKind(f.Payload);
                if (!isResult || id < 0 || id >= N || seen[id]) return $"bad or duplicate reply {Encoding.UTF8.GetString(f.Payload, 0, Math.Min(80, f.Payload.Length))}";
                seen[id] = true;
                answered++;
            }
            await writer.WaitAsync(TimeSpan.FromSeconds(30));
            return "open, every reply delivered";
        }),

        // Upgrades, then neither sends nor reads anything: the client timeout closes it.
        ["half-open TCP"] = new(o =>
        {
            o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(20);
            o.Timeouts.KeepAliveInterval = TimeSpan.FromMilliseconds(100);
            o.Timeouts.ClientTimeout = TimeSpan.FromMilliseconds(500);
        }, async (gw, during) =>
        {
            await using var ghost = await gw.OpenRawAsync();
            await during();
            if (!await Wire.WaitUntilAsync(() => gw.Metrics.ClientTimeouts >= 1, TimeSpan.FromSeconds(5))) return "never timed out";
            int code = await ghost.ReadCloseAsync(TimeSpan.FromSeconds(5));
            return $"close {code}";
        }),

        // Half a frame, then RST (SO_LINGER 0): the server must notice and let go of the connection.
        ["abrupt RST mid-frame"] = new(_ => { }, async (gw, during) =>
        {
            var rst = await gw.OpenRawAsync();
            int before = gw.Server.ConnectionCount;
            var frame = RawClient.Frame(1, Encoding.UTF8.GetBytes(Wire.Request("r", "t/echo", "{\"text\":\"" + new string('r', 1000) + "\"}")));
            await rst.SendAsync(frame.AsMemory(0, 300));
            await during();
            rst.Socket.LingerState = new LingerOption(true, 0);
            rst.Socket.Close();
            await rst.DisposeAsync();
            return await Wire.WaitUntilAsync(() => gw.Server.ConnectionCount == before - 1, TimeSpan.FromSeconds(5))
                ? "dropped" : $"still {gw.Server.ConnectionCount} connections (was {before})";
        }),

        // 55 sockets that connect and never send a byte, against MaxConnections=4 (the good client holds one). The
        // server holds at most the limit plus its over-limit slots; the rest wait in the kernel's backlog (not in
        // our descriptors) and are accepted as the handshake timeout frees slots.
        ["silent connections held in the handshake beyond MaxConnections"] = new(o =>
        {
            o.Limits.MaxConnections = 4;
            o.Timeouts.Handshake = TimeSpan.FromMilliseconds(500);
            o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(20);
        }, async (gw, during) =>
        {
            const int Silent = 55;
            int held = gw.Options.Limits.MaxConnections + Gateway.Server.GatewayServer.OverLimitSlots;
            var silent = new List<RawClient>();
            try
            {
                for (int i = 0; i < Silent; i++) silent.Add(await RawClient.ConnectAsync(gw.EndPoint));
                if (!await Wire.WaitUntilAsync(() => gw.Metrics.AcceptPauses >= 1 && gw.Server.ConnectionCount == held, TimeSpan.FromSeconds(5)))
                    return $"{gw.Server.ConnectionCount} connections held, {gw.Metrics.AcceptPauses} pauses";
                await during();
                int peak = gw.Server.ConnectionCount;
                // Every silent socket is accepted in its turn and dropped at the handshake timeout.
                if (!await Wire.WaitUntilAsync(() => gw.Metrics.HandshakeTimeouts == Silent, TimeSpan.FromSeconds(20)))
                    return $"{gw.Metrics.HandshakeTimeouts} of {Silent} handshake timeouts";
                await using var late = await gw.OpenRawAsync(); // the limit has room again
                return peak <= held ? "held at the limit, the rest accepted in turn" : $"{peak} connections held (limit {held})";
            }
            finally
            {
                foreach (var s in silent) await s.DisposeAsync();
            }
        }),
    };

    /// <summary>Upgrades, sends <paramref name="bytes"/>, lets the good client be served, then reads the server's close.</summary>
    private static async Task<string> AfterUpgradeAsync(PolicyGateway gw, Func<Task> during, byte[] bytes)
    {
        await using var bad = await gw.OpenRawAsync();
        await bad.SendAsync(bytes);
        await during();
        var (_, code, _, after) = await bad.ReadUntilCloseAsync();
        return after == 0 ? $"close {code}" : $"close {code}, then {after} more frames";
    }

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(Rows))]
    public async Task A_misbehaving_client_gets_its_outcome_and_a_good_client_keeps_being_served(string misbehaviour, string expected)
    {
        var scenario = Scenarios[misbehaviour];
        await using var gw = await PolicyGateway.StartAsync(scenario.Configure);
        await using var good = await gw.OpenRpcAsync();
        Assert.Equal("before", await good.EchoAsync("before"));

        int duringCalls = 0;
        string outcome = await scenario.Run(gw, async () =>
        {
            Assert.Equal("during", await good.EchoAsync("during"));
            var slow = await good.CallAsync("t/wait", "{\"ms\":10}");
            Assert.True(slow.TryGetProperty("result", out _), slow.GetRawText());
            duringCalls++;
        }).WaitAsync(TimeSpan.FromSeconds(45));

        Assert.Equal(expected, outcome);
        Assert.Equal(1, duringCalls);
        Assert.Equal("after", await good.EchoAsync("after"));
        if (good.IsClosed)
        {
            var (code, reason) = await good.Closed;
            Assert.Fail($"the good client was closed: {code} '{reason}'");
        }
    }
}
