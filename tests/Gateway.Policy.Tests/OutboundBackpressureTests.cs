using System.Text.Json;
using Gateway.Server.Options;
using Gateway.Tests.Shared;
using Xunit.Abstractions;

namespace Gateway.Policy.Tests;

/// <summary>
/// Limits:SendBufferLimitBytes with a consumer that stops reading: stream items follow Limits:SlowConsumerPolicy
/// (DropNewest: dropped and counted, the stream goes on; Close: 1008 and nothing after it); replies are never dropped.
/// </summary>
public class OutboundBackpressureTests(ITestOutputHelper output)
{
    private const int SendLimit = 64 * 1024;

    private static long SeqOf(JsonElement m) => m.GetProperty("data").GetProperty("seq").GetInt64();
    private static bool IsItem(JsonElement m, string id) => Wire.IdOf(m) == id && m.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object;

    [Fact(Timeout = 60_000)]
    public async Task DropNewest_drops_and_counts_items_for_a_consumer_that_stops_reading_and_keeps_the_stream_going()
    {
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Limits.SendBufferLimitBytes = SendLimit;
            o.Limits.SlowConsumerPolicy = SlowConsumerPolicy.DropNewest;
        });
        await using var client = await gw.OpenRawAsync();
        long heapBefore = Wire.HeapAfterGc();

        await client.SendRequestAsync("f", "t/fast", "{\"size\":8192}");
        var first = await client.ReadMessageAsync();
        Assert.True(IsItem(first, "f"), first.GetRawText());
        Assert.Equal(0, SeqOf(first));

        // Stop reading. Items keep being produced; over the 64 KiB bound they are dropped and counted.
        Assert.True(await Waits.WaitUntilAsync(() => gw.Metrics.FramesDropped >= 2_000, TimeSpan.FromSeconds(20)),
            $"dropped {gw.Metrics.FramesDropped} after 20 s (produced {gw.Service.Produced})");
        long heapGrowth = Wire.HeapAfterGc() - heapBefore;
        output.WriteLine($"not reading: produced {gw.Service.Produced} items of 8 KiB, dropped {gw.Metrics.FramesDropped}; heap growth {heapGrowth / 1_000_000.0:F1} MB");
        // 2000 dropped items are 16 MB: had they been buffered the heap would show it.
        Assert.True(heapGrowth < 12_000_000, $"managed heap grew by {heapGrowth / 1_000_000.0:F1} MB while the consumer did not read");

        // Resume reading: items still come, including ones produced after the resume, with gaps where drops were.
        long producedAtResume = gw.Service.Produced;
        long previous = 0, gaps = 0, items = 0;
        while (true)
        {
            var m = await client.ReadMessageAsync();
            Assert.True(IsItem(m, "f"), m.GetRawText());
            long seq = SeqOf(m);
            Assert.True(seq > previous, $"item {seq} after {previous}: out of order");
            if (seq != previous + 1) gaps++;
            previous = seq;
            items++;
            if (seq > producedAtResume) break;
        }
        Assert.True(gaps > 0, "no gap in the sequence although items were dropped");
        output.WriteLine($"after resuming: read {items} items, {gaps} gaps, up to seq {previous}");

        // The connection is open and answers a request (its reply is never dropped).
        await client.SendRequestAsync("e", "t/echo", "{\"text\":\"open\"}");
        var reply = await client.ReadReplyAsync("e", other: m => Assert.True(IsItem(m, "f"), m.GetRawText()));
        Assert.Equal("open", reply.GetProperty("result").GetProperty("text").GetString());
        await client.SendAsync(Wire.TextFrame("{\"id\":\"f\",\"cancel\":true}"));
        await client.CallAsync("e2", "t/echo");
        Assert.Equal(0, gw.Metrics.SlowConsumerCloses);
    }

    [Fact(Timeout = 60_000)]
    public async Task Close_policy_closes_a_consumer_that_stops_reading_with_1008_after_a_gapless_prefix_and_nothing_after_it()
    {
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Limits.SendBufferLimitBytes = SendLimit;
            o.Limits.SlowConsumerPolicy = SlowConsumerPolicy.Close;
            o.Timeouts.Close = TimeSpan.FromSeconds(5); // time for us to read the backlog before the server gives up on us
        });
        await using var bystander = await gw.OpenRpcAsync();
        await using var client = await gw.OpenRawAsync();
        long heapBefore = Wire.HeapAfterGc();

        await client.SendRequestAsync("f", "t/fast", "{\"size\":8192}");
        var first = await client.ReadMessageAsync();
        Assert.Equal(0, SeqOf(first));

        Assert.True(await Waits.WaitUntilAsync(() => gw.Metrics.SlowConsumerCloses >= 1, TimeSpan.FromSeconds(20)), "no slow-consumer close");
        long heapGrowth = Wire.HeapAfterGc() - heapBefore;
        Assert.True(heapGrowth < 12_000_000, $"managed heap grew by {heapGrowth / 1_000_000.0:F1} MB");

        // Read everything: a gapless run of items (nothing was silently dropped), the close 1008, then the TCP end.
        var (messages, code, reason, after) = await client.ReadUntilCloseAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(1008, code);
        Assert.Equal("slow consumer", reason);
        Assert.Equal(0, after);
        Assert.All(messages, m => Assert.True(IsItem(m, "f"), m.GetRawText()));
        var seqs = messages.Select(SeqOf).ToArray();
        Assert.Equal(Enumerable.Range(1, seqs.Length).Select(i => (long)i), seqs);
        Assert.Equal(0, gw.Metrics.FramesDropped);
        output.WriteLine($"{seqs.Length} items before the close");

        Assert.Equal("unaffected", await bystander.EchoAsync("unaffected"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Replies_queued_for_a_consumer_over_the_bound_are_never_dropped()
    {
        const int N = 100;
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Limits.SendBufferLimitBytes = SendLimit;
            o.Limits.SlowConsumerPolicy = SlowConsumerPolicy.DropNewest;
            o.Limits.MaxInflightPerConnection = 256;
        });
        await using var client = await gw.OpenRawAsync();

        // N requests that finish in 300 ms with 2 KiB replies; all start before anything fills the buffer.
        await client.SendAsync(Wire.Concat(Enumerable.Range(0, N).Select(i => Wire.RequestFrame("w" + i, "t/wait", "{\"ms\":300,\"size\":2048}"))));
        Assert.True(await Waits.WaitUntilAsync(() => gw.Service.WaitsStarted == N), $"{gw.Service.WaitsStarted} started");
        // Then a stream that fills the send buffer (we do not read).
        await client.SendRequestAsync("f", "t/fast", "{\"size\":8192}");
        Assert.True(await Waits.WaitUntilAsync(() => gw.Service.WaitsCompleted == N), $"{gw.Service.WaitsCompleted} completed");
        long droppedWhenRepliesWereReady = gw.Metrics.FramesDropped;
        // Still over the bound after the replies were ready (items keep being dropped): the replies wait for room.
        Assert.True(await Waits.WaitUntilAsync(() => gw.Metrics.FramesDropped > droppedWhenRepliesWereReady + 100, TimeSpan.FromSeconds(20)),
            $"dropped {gw.Metrics.FramesDropped}");

        // Read: every reply arrives, whole, exactly once (stream items in between are skipped).
        var got = new Dictionary<string, int>();
        while (got.Count < N)
        {
            var m = await client.ReadMessageAsync(TimeSpan.FromSeconds(20));
            if (Wire.IdOf(m) == "f") continue;
            Assert.True(m.TryGetProperty("result", out var result), m.GetRawText());
            Assert.Equal(2048, result.GetProperty("pad").GetString()!.Length);
            string id = Wire.IdOf(m)!;
            got[id] = got.GetValueOrDefault(id) + 1;
        }
        Assert.Equal(Enumerable.Range(0, N).Select(i => "w" + i).Order(), got.Keys.Order());
        Assert.All(got.Values, n => Assert.Equal(1, n));
        // Exactly once: nothing more for a w id up to the reply to a last request, which the one outbox writes after
        // anything queued before it (the stream's items may still be in between).
        await client.SendAsync(Wire.TextFrame("{\"id\":\"f\",\"cancel\":true}"));
        await client.SendRequestAsync("last", "t/echo");
        for (int i = 0; ; i++)
        {
            Assert.True(i < 100_000, "no reply to the last request among 100000 messages");
            var m = await client.ReadMessageAsync(TimeSpan.FromSeconds(20));
            string? id = Wire.IdOf(m);
            if (id == "last") { Assert.True(m.TryGetProperty("result", out _), m.GetRawText()); break; }
            Assert.True(id == "f", "a second message for a reply already delivered: " + m.GetRawText());
        }
    }

    // Issue 10, finding 2: pongs count toward the send budget; under the Close policy a peer that floods pings and
    // never reads the pongs is closed with 1008, like one that does not read its stream items.
    [Fact(Timeout = 60_000)]
    public async Task Close_policy_closes_a_ping_flooder_that_never_reads_its_pongs_with_1008()
    {
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Limits.SendBufferLimitBytes = SendLimit;
            o.Limits.SlowConsumerPolicy = SlowConsumerPolicy.Close;
            o.Timeouts.Close = TimeSpan.FromSeconds(10); // time for us to read the pongs before the server gives up on us
        });
        await using var bystander = await gw.OpenRpcAsync();
        await using var flood = await gw.OpenRawAsync();
        var batch = Wire.Concat(Enumerable.Repeat(RawClient.Frame(9, new byte[125]), 10_000));
        using var stop = new CancellationTokenSource();
        long sent = 0;
        var writer = Task.Run(async () =>
        {
            try
            {
                for (int i = 0; i < 200 && !stop.IsCancellationRequested; i++) { await flood.SendAsync(batch); Interlocked.Add(ref sent, 10_000); }
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException or OperationCanceledException or IOException) { }
        });
        bool closed = await Waits.WaitUntilAsync(() => gw.Metrics.SlowConsumerCloses >= 1, TimeSpan.FromSeconds(20));
        stop.Cancel();
        output.WriteLine($"sent {Interlocked.Read(ref sent)} pings; slow-consumer closes {gw.Metrics.SlowConsumerCloses}, max unsent now {gw.Metrics.UnsentBytes}");
        Assert.True(closed, $"not closed after {Interlocked.Read(ref sent)} pings");
        Assert.Equal("during", await bystander.EchoAsync("during"));

        // Reading now: pongs, then the close (the writer may still be blocked in a send until the server lets go).
        var (_, code, reason, after) = await flood.ReadUntilCloseAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1008, code);
        Assert.Equal("slow consumer", reason);
        Assert.Equal(0, after);
        await writer.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(1, gw.Metrics.SlowConsumerCloses);
        Assert.Equal("after", await bystander.EchoAsync("after"));
    }
}
