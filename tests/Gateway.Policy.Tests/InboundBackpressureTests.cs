using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Gateway.Tests.Shared;
using Xunit.Abstractions;

namespace Gateway.Policy.Tests;

/// <summary>
/// Limits:MaxInflightPerConnection and the send bound pause the read loop: TCP pushes back on a client that sends
/// faster than it reads, the server's memory stays bounded, and nothing is dropped.
/// </summary>
public class InboundBackpressureTests(ITestOutputHelper output)
{
    /// <summary>Reads the integer id of a reply and whether it is a result, without building a document.</summary>
    internal static (long Id, bool IsResult) ReadIdAndKind(byte[] payload)
    {
        var reader = new Utf8JsonReader(payload);
        reader.Read(); // {
        reader.Read(); // "id"
        if (reader.TokenType != JsonTokenType.PropertyName || !reader.ValueTextEquals("id"u8)) return (-1, false);
        reader.Read();
        long id = reader.TokenType == JsonTokenType.Number ? reader.GetInt64() : -1;
        reader.Read();
        return (id, reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("result"u8));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_client_pipelining_100000_echo_requests_without_reading_is_pushed_back_and_every_id_is_answered_once()
    {
        const int N = 100_000, Batch = 1_000;
        string input = JsonSerializer.Serialize(new { text = new string('p', 200) });
        await using var gw = await PolicyGateway.StartAsync(o => o.Limits.MaxInflightPerConnection = 8);
        await using var client = await gw.OpenRawAsync();
        Assert.Equal("0", Wire.IdOf(await client.CallAsync("0", "t/echo", input))); // warm path
        long heapBefore = Wire.HeapAfterGc();
        long workingSetBefore = Process.GetCurrentProcess().WorkingSet64;

        long sent = 0;
        var writer = Task.Run(async () =>
        {
            for (int first = 1; first <= N; first += Batch)
            {
                var batch = Wire.Concat(Enumerable.Range(first, Batch).Select(id => Wire.RequestFrame(id, "t/echo", input)));
                await client.SendAsync(batch);
                Interlocked.Add(ref sent, Batch);
            }
        });

        // Do not read. The server must stop reading this socket (the send bound is reached and replies are not being
        // read, so nothing more is dispatched and the input pipe fills): seen on the server, not guessed from the writer.
        bool serverStoppedReading = await Wire.WaitForServerToStopReadingAsync(gw, client);
        long sentWhileNotReading = Interlocked.Read(ref sent);
        long serverRead = Wire.ServerSide(gw, client).BytesReceived;
        long heapGrowth = Wire.HeapAfterGc() - heapBefore;
        long workingSetGrowth = Process.GetCurrentProcess().WorkingSet64 - workingSetBefore;
        output.WriteLine($"not reading: the writer got {sentWhileNotReading} of {N} requests ({sentWhileNotReading * 250 / 1_000_000} MB) out before stalling; " +
                         $"managed heap growth {heapGrowth / 1_000_000.0:F1} MB, working set growth {workingSetGrowth / 1_000_000.0:F1} MB");

        // Now read every reply while the writer finishes.
        var seen = new byte[N + 1];
        int answered = 0, notResults = 0, unknown = 0;
        var readClock = Stopwatch.StartNew();
        while (answered < N)
        {
            var frame = await client.ReadFrameAsync(TimeSpan.FromSeconds(30));
            if (frame.Opcode != 1) continue;
            var (id, isResult) = ReadIdAndKind(frame.Payload);
            if (id < 1 || id > N) { unknown++; continue; }
            if (!isResult) notResults++;
            if (seen[id]++ == 0) answered++;
            else Assert.Fail($"id {id} answered twice");
        }
        await writer.WaitAsync(TimeSpan.FromSeconds(30));
        output.WriteLine($"read {N} replies in {readClock.ElapsedMilliseconds} ms");

        Assert.Equal(0, unknown);
        Assert.Equal(0, notResults);
        Assert.All(Enumerable.Range(1, N), id => Assert.Equal(1, seen[id]));
        // Nothing more arrives: one more call is answered next.
        var last = await client.CallAsync("last", "t/echo", input);
        Assert.True(last.TryGetProperty("result", out _));

        // The client pushed ~25 MB of requests (and ~22 MB of replies) through; a server that buffered them instead
        // of pushing back would hold tens of MB. Bounded: input pipe (256 KiB), send bound (1 MiB) and pools.
        Assert.True(serverStoppedReading, $"the server never stopped reading the client's socket ({serverRead} bytes read)");
        Assert.True(sentWhileNotReading < N, "the writer was never pushed back: every request fit in buffers while nothing was read");
        Assert.True(heapGrowth < 48_000_000, $"managed heap grew by {heapGrowth / 1_000_000.0:F1} MB while the client did not read");
    }

    [Fact(Timeout = 30_000)]
    public async Task At_most_MaxInflightPerConnection_async_requests_run_at_once_and_none_is_dropped()
    {
        const int N = 64;
        await using var gw = await PolicyGateway.StartAsync(o => o.Limits.MaxInflightPerConnection = 8);
        await using var client = await gw.OpenRawAsync();

        await client.SendAsync(Wire.Concat(Enumerable.Range(1, N).Select(i => Wire.RequestFrame(i, "t/wait", "{\"ms\":30}"))));
        // A synchronous request behind them starts only after them (arrival order) but is not lost either.
        await client.SendRequestAsync(N + 1, "t/echo", "{\"text\":\"behind\"}");

        var order = new List<long>();
        while (order.Count < N + 1)
        {
            var frame = await client.ReadFrameAsync();
            if (frame.Opcode != 1) continue;
            var (id, isResult) = ReadIdAndKind(frame.Payload);
            Assert.True(isResult, Encoding.UTF8.GetString(frame.Payload));
            order.Add(id);
        }
        Assert.Equal(Enumerable.Range(1, N + 1).Select(i => (long)i), order.Order());
        Assert.Equal(N, gw.Service.WaitsCompleted);
        Assert.Equal(8, gw.Service.MaxRunning);
        // The echo was read only once a slot was free: at least N - 8 waits had finished before it was answered.
        Assert.True(order.IndexOf(N + 1) >= N - 8, $"t/echo answered at position {order.IndexOf(N + 1)}");
    }
}
