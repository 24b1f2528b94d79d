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
        { "ping flood with 8 streams running, never reading", "reading paused, unsent bytes bounded" },
        { "1 MiB frame heads from 50 connections, stalled", "held only what was sent" },
        { "incomplete messages over the global cap", "largest closed 1009, the smaller completes" },
        { "bad-envelope flood", "close 1008" },
        { "rate-limit flood", "close 1008" },
        { "never reading replies", "open, every reply delivered" },
        { "silent client (upgraded, never sends or reads)", "close 1001" },
        { "abrupt RST mid-frame", "dropped" },
        { "handler-crash flood", "every reply INTERNAL, log bounded" },
        { "silent sockets at the handshake timeout", "dropped, log bounded" },
        { "silent connections held in the handshake beyond MaxConnections", "held at the limit, the rest accepted in turn" },
    };

    private const int FloodSendLimit = 64 * 1024;

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
            bool pushedBack = await Wire.WaitForServerToStopReadingAsync(gw, flood);
            long pings = Interlocked.Read(ref sent);
            await during();
            long growth = Wire.HeapAfterGc() - heapBefore;
            // The server's own account too: what it owes this client stays near Limits:SendBufferLimitBytes.
            long unsent = await MetricsScrape.ReadAsync(gw.EndPoint, "gateway_unsent_bytes");
            long bound = gw.Options.Limits.SendBufferLimitBytes + 256 * 1024;
            await flood.DisposeAsync();
            await writer.WaitAsync(TimeSpan.FromSeconds(15));
            return pushedBack && growth < 40_000_000 && unsent < bound ? "pushed back, memory bounded"
                : $"{(pushedBack ? "pushed back" : "never pushed back")} after {pings} pings, heap grew {growth / 1_000_000} MB, {unsent} bytes unsent (bound {bound})";
        }),

        // Issue 10, finding 2: eight streams keep another drainer busy on the full pipe, so the read loop's own flush
        // was no brake and the server kept reading pings, queueing a pong for each. The server's own accounting must
        // show the connection stopped being read and its unsent bytes stayed near Limits:SendBufferLimitBytes.
        ["ping flood with 8 streams running, never reading"] = new(o => o.Limits.SendBufferLimitBytes = FloodSendLimit, async (gw, during) =>
        {
            var flood = await gw.OpenRawAsync();
            for (int i = 0; i < 8; i++) await flood.SendRequestAsync("s" + i, "t/fast", "{\"size\":1024}");
            var batch = Wire.Concat(Enumerable.Repeat(RawClient.Frame(9, new byte[125]), 10_000));
            long sent = 0, maxUnsent = 0;
            using var stop = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    maxUnsent = Math.Max(maxUnsent, gw.Metrics.UnsentBytes);
                    await Task.Delay(5);
                }
            });
            // At most 2,000,000 pings of 125 bytes (262 MB), as in the finding; TCP should stop the writer long before.
            var writer = Task.Run(async () =>
            {
                try
                {
                    for (int i = 0; i < 200 && !stop.IsCancellationRequested; i++) { await flood.SendAsync(batch); Interlocked.Add(ref sent, 10_000); }
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException or IOException) { }
            });
            bool pushedBack = await Wire.WaitForServerToStopReadingAsync(gw, flood);
            long pings = Interlocked.Read(ref sent);
            bool paused = await Waits.WaitUntilAsync(() => gw.Metrics.ReadsPaused >= 1, TimeSpan.FromSeconds(5));
            await during();
            long scraped = await MetricsScrape.ReadAsync(gw.EndPoint, "gateway_unsent_bytes");
            // The kernel's socket buffers grow (autotuning) for a while after the pipe first fills, so the read loop may
            // resume and pause a few times before the connection settles paused: wait (bounded) for /metrics to show it.
            long pausedGauge = 0;
            await Waits.WaitUntilAsync(async () => (pausedGauge = await MetricsScrape.ReadAsync(gw.EndPoint, "gateway_reads_paused")) >= 1, TimeSpan.FromSeconds(10));
            stop.Cancel();
            await sampler;
            maxUnsent = Math.Max(maxUnsent, scraped);
            await flood.DisposeAsync();
            await writer.WaitAsync(TimeSpan.FromSeconds(15));
            // The limit, plus one item per stream and one pong that may each have passed the check just before it tripped.
            const long Bound = FloodSendLimit + 128 * 1024;
            return pushedBack && paused && pausedGauge >= 1 && maxUnsent < Bound && gw.Metrics.PingsCoalesced > 0
                ? "reading paused, unsent bytes bounded"
                : $"paused {paused}/{pausedGauge}, max unsent {maxUnsent} (bound {Bound}), {gw.Metrics.PingsCoalesced} pings coalesced, pushed back {pushedBack} after {pings} pings";
        }),

        // Issue 10, finding 3: headers declaring 1 MiB followed by 100 bytes, then nothing. The server holds what arrived
        // (its 256-byte floor each), not the declared megabyte: 50 MiB before the fix.
        ["1 MiB frame heads from 50 connections, stalled"] = new(_ => { }, async (gw, during) =>
        {
            const int N = 50, Sent = 100;
            var head = RawClient.Frame(2, new byte[1 << 20]).AsMemory(0, 14 + Sent);
            var stalled = new List<RawClient>();
            long held;
            bool seen;
            try
            {
                for (int i = 0; i < N; i++)
                {
                    var c = await gw.OpenRawAsync();
                    stalled.Add(c);
                    await c.SendAsync(head);
                }
                seen = await Waits.WaitUntilAsync(() => gw.Metrics.PartialMessageBytes >= N * Sent, TimeSpan.FromSeconds(10));
                await during();
                held = await MetricsScrape.ReadAsync(gw.EndPoint, "gateway_partial_message_bytes");
            }
            finally
            {
                foreach (var c in stalled) await c.DisposeAsync();
            }
            bool released = await Waits.WaitUntilAsync(() => gw.Metrics.PartialMessageBytes == 0, TimeSpan.FromSeconds(10));
            return seen && held >= N * Sent && held <= N * 256 && released
                ? "held only what was sent"
                : $"seen {seen}, held {held} bytes for {N * Sent} sent, released {released} ({gw.Metrics.PartialMessageBytes} left)";
        }),

        // Issue 10, finding 3: over Limits:MaxPartialMessageBytesTotal the connection holding the most is closed with 1009;
        // one holding less goes on and completes its message.
        ["incomplete messages over the global cap"] = new(o => o.Limits.MaxPartialMessageBytesTotal = 1 << 20, async (gw, during) =>
        {
            await using var big = await RawClient.OpenAsync(gw.EndPoint, gw.Options.EchoPath!);
            await using var small = await RawClient.OpenAsync(gw.EndPoint, gw.Options.EchoPath!);
            var bigFrame = RawClient.Frame(2, new byte[1 << 20]);
            await big.SendAsync(bigFrame.AsMemory(0, 14 + 600_000));
            // Past 512 KiB arrived its buffer is the whole declared megabyte: exactly the cap, not over it.
            if (!await Waits.WaitUntilAsync(() => gw.Metrics.PartialMessageBytes >= 600_000, TimeSpan.FromSeconds(10)))
                return $"big never held 600000 bytes ({gw.Metrics.PartialMessageBytes})";
            var smallPayload = new byte[200_000];
            new Random(10).NextBytes(smallPayload);
            var smallFrame = RawClient.Frame(2, smallPayload);
            await small.SendAsync(smallFrame.AsMemory(0, 14 + 100_000));
            await during();
            int code = await big.ReadCloseAsync(TimeSpan.FromSeconds(10));
            await small.SendAsync(smallFrame.AsMemory(14 + 100_000));
            var echo = await small.ReadFrameAsync(TimeSpan.FromSeconds(10));
            long closes = await MetricsScrape.ReadAsync(gw.EndPoint, "gateway_partial_message_closes_total");
            bool echoed = echo.Opcode == 2 && echo.Payload.AsSpan().SequenceEqual(smallPayload);
            return code == 1009 && closes == 1 && echoed
                ? "largest closed 1009, the smaller completes"
                : $"big got close {code}, {closes} cap closes, small echoed {echoed} (opcode {echo.Opcode}, {echo.Payload.Length} bytes)";
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
            // Wait until the server stops reading the hog (its backlog sits there), then be served meanwhile.
            if (!await Wire.WaitForServerToStopReadingAsync(gw, hog)) return "the server never stopped reading the hog";
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
        ["silent client (upgraded, never sends or reads)"] = new(o =>
        {
            o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(20);
            o.Timeouts.KeepAliveInterval = TimeSpan.FromMilliseconds(100);
            o.Timeouts.ClientTimeout = TimeSpan.FromMilliseconds(500);
        }, async (gw, during) =>
        {
            await using var ghost = await gw.OpenRawAsync();
            await during();
            if (!await Waits.WaitUntilAsync(() => gw.Metrics.ClientTimeouts >= 1, TimeSpan.FromSeconds(5))) return "never timed out";
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
            return await Waits.WaitUntilAsync(() => gw.Server.ConnectionCount == before - 1, TimeSpan.FromSeconds(5))
                ? "dropped" : $"still {gw.Server.ConnectionCount} connections (was {before})";
        }),

        // 2,000 calls to a handler that throws: each one answered INTERNAL and counted, the log within its budget.
        ["handler-crash flood"] = new(o => o.Limits.ClientFaultLogsPerSecond = 5, async (gw, during) =>
        {
            const int calls = 2_000;
            long start = Environment.TickCount64 / 1000;
            int internalReplies = await LogBudgetTests.CrashFloodAsync(gw, calls, during);
            int written = gw.Logs.With("handler for t/throw failed").Count;
            long windows = LogBudgetTests.WindowsSince(start);
            bool bounded = written >= 1 && written <= 5 * windows && written + gw.Metrics.LogLinesSuppressed == calls;
            return internalReplies == calls && gw.Metrics.InternalErrors == calls && bounded
                ? "every reply INTERNAL, log bounded"
                : $"{internalReplies} INTERNAL replies, metric {gw.Metrics.InternalErrors}, {written} lines written, {gw.Metrics.LogLinesSuppressed} suppressed in {windows} s";
        }),

        // 500 sockets that never send a byte, all dropped by the handshake timeout at about the same moment.
        ["silent sockets at the handshake timeout"] = new(o =>
        {
            o.Limits.ClientFaultLogsPerSecond = 5;
            o.Timeouts.Handshake = TimeSpan.FromMilliseconds(300);
        }, async (gw, during) =>
        {
            const int sockets = 500;
            long start = Environment.TickCount64 / 1000;
            await LogBudgetTests.SilentSocketsAsync(gw, sockets, during);
            int written = gw.Logs.With("aborted: handshake timeout").Count;
            long windows = LogBudgetTests.WindowsSince(start);
            return written >= 1 && written <= 5 * windows && written + gw.Metrics.LogLinesSuppressed == sockets
                ? "dropped, log bounded"
                : $"{written} lines written, {gw.Metrics.LogLinesSuppressed} suppressed in {windows} s";
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
                if (!await Waits.WaitUntilAsync(() => gw.Metrics.AcceptPauses >= 1 && gw.Server.ConnectionCount == held, TimeSpan.FromSeconds(5)))
                    return $"{gw.Server.ConnectionCount} connections held, {gw.Metrics.AcceptPauses} pauses";
                await during();
                int peak = gw.Server.ConnectionCount;
                // Every silent socket is accepted in its turn and dropped at the handshake timeout.
                if (!await Waits.WaitUntilAsync(() => gw.Metrics.HandshakeTimeouts == Silent, TimeSpan.FromSeconds(20)))
                    return $"{gw.Metrics.HandshakeTimeouts} of {Silent} handshake timeouts";
                // A timed-out connection is counted before its socket is released: wait until only the good client holds one.
                if (!await Waits.WaitUntilAsync(() => gw.Server.OpenConnections == 1, TimeSpan.FromSeconds(10)))
                    return $"{gw.Server.OpenConnections} connections still open after every handshake timeout";
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
