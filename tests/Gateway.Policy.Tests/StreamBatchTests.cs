using System.Text.Json;
using Gateway.Server.Options;
using Gateway.Tests.Shared;
using Xunit.Abstractions;

namespace Gateway.Policy.Tests;

/// <summary>
/// Stream items a handler yields without waiting are serialized back to back and queued in batches (StreamBatch):
/// over real sockets, each item must still arrive as its own message, complete and in order, across batch boundaries
/// and all three frame-header sizes; a cancel mid-batch stops the stream; progress and a mid-stream error keep their
/// place; and a consumer that stops reading gets exactly what Limits:SlowConsumerPolicy says, item by item.
/// </summary>
public class StreamBatchTests(ITestOutputHelper output)
{
    private static bool IsItem(JsonElement m, string id) => Wire.IdOf(m) == id && m.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object;
    private static long SeqOf(JsonElement m) => m.GetProperty("data").GetProperty("seq").GetInt64();
    private static string PadOf(JsonElement m) => m.GetProperty("data").GetProperty("pad").GetString()!;

    [Fact(Timeout = 60_000)]
    public async Task A_burst_arrives_complete_and_in_order_each_item_its_own_message_then_done()
    {
        const int N = 5_000;
        // A send limit this test's reader cannot reach (7 MB of large items): nothing may be dropped.
        await using var gw = await PolicyGateway.StartAsync(o => o.Limits.SendBufferLimitBytes = 256 * 1024 * 1024);
        await using var client = await gw.OpenRawAsync();

        // Items of 7, 130 and 70,000 characters: 2-, 4- and 10-byte frame headers inside one batch, batches of many
        // small items and batches that grow past the target for one large item.
        await client.SendRequestAsync("b", "t/burst", $"{{\"n\":{N}}}");
        for (int i = 0; i < N; i++)
        {
            var m = await client.ReadMessageAsync();
            Assert.True(IsItem(m, "b"), $"message {i}: {m.GetRawText()[..Math.Min(200, m.GetRawText().Length)]}");
            Assert.Equal(i, SeqOf(m));
            Assert.Equal(TestService.BurstPad(i, 0, null), PadOf(m));
        }
        var done = await client.ReadMessageAsync();
        Assert.Equal("b", Wire.IdOf(done));
        Assert.True(done.GetProperty("done").GetBoolean(), done.GetRawText());
        // Nothing after done: the next message is the answer to a later request.
        Assert.Equal("after", (await client.CallAsync("e", "t/echo", "{\"text\":\"after\"}")).GetProperty("result").GetProperty("text").GetString());
        Assert.Equal(0, gw.Metrics.FramesDropped);
    }

    [Fact(Timeout = 60_000)]
    public async Task Items_before_a_mid_stream_error_arrive_ahead_of_it_and_progress_keeps_its_place()
    {
        await using var gw = await PolicyGateway.StartAsync();
        await using var client = await gw.OpenRawAsync();

        // Fails at item 777, all of whose predecessors were still in the batch when the handler threw.
        await client.SendRequestAsync("f", "t/burst", "{\"n\":100000,\"size\":10,\"failAt\":777}");
        for (int i = 0; i < 777; i++)
        {
            var m = await client.ReadMessageAsync();
            Assert.True(IsItem(m, "f"), m.GetRawText());
            Assert.Equal(i, SeqOf(m));
        }
        var error = await client.ReadMessageAsync();
        Assert.Equal("ABORTED", Wire.ErrorCode(error));

        // Progress reported between items by the same synchronous handler comes exactly between them.
        await client.SendRequestAsync("p", "t/burst", "{\"n\":1000,\"size\":10,\"progressEvery\":100}");
        for (int i = 0; i < 1000; i++)
        {
            if (i % 100 == 0)
            {
                var progress = await client.ReadMessageAsync();
                Assert.True(progress.TryGetProperty("progress", out var p), progress.GetRawText());
                Assert.Equal(i, p.GetInt32());
            }
            var m = await client.ReadMessageAsync();
            Assert.True(IsItem(m, "p"), m.GetRawText());
            Assert.Equal(i, SeqOf(m));
        }
        Assert.True((await client.ReadMessageAsync()).GetProperty("done").GetBoolean());
    }

    [Fact(Timeout = 60_000)]
    public async Task Cancel_mid_burst_stops_the_stream_nothing_follows_and_no_done()
    {
        await using var gw = await PolicyGateway.StartAsync();
        await using var client = await gw.OpenRawAsync();

        // A burst far longer than the test: only the cancel ends it.
        await client.SendRequestAsync("c", "t/burst", "{\"n\":2000000000,\"size\":10}");
        var first = await client.ReadMessageAsync();
        Assert.True(IsItem(first, "c"), first.GetRawText());
        await client.SendAsync(Wire.TextFrame("{\"id\":\"c\",\"cancel\":true}"));
        Assert.True(await Task.WhenAny(gw.Service.BurstEnded.Task, Task.Delay(TimeSpan.FromSeconds(10))) == gw.Service.BurstEnded.Task,
            "the handler did not stop within 10 s of the cancel");

        // The reply to a request sent after the cancel comes after the last item: nothing for "c" follows it.
        await client.SendRequestAsync("e1", "t/echo", "{\"text\":\"one\"}");
        long items = 0, previous = -1;
        while (true)
        {
            var m = await client.ReadMessageAsync();
            if (Wire.IdOf(m) == "e1") break;
            Assert.True(IsItem(m, "c"), "not an item: " + m.GetRawText());
            long seq = SeqOf(m);
            Assert.True(seq > previous, $"item {seq} after {previous}");
            previous = seq;
            items++;
        }
        long produced = gw.Service.BurstProduced;
        await client.SendRequestAsync("e2", "t/echo", "{\"text\":\"two\"}");
        var next = await client.ReadMessageAsync();
        Assert.Equal("e2", Wire.IdOf(next));
        Assert.Equal(produced, gw.Service.BurstProduced);
        output.WriteLine($"{items + 1} items before the cancel took effect; {produced} produced");
    }

    [Fact(Timeout = 60_000)]
    public async Task DropNewest_a_consumer_that_does_not_read_a_burst_gets_an_ordered_subset_and_every_missing_item_is_counted()
    {
        const int N = 20_000;
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Limits.SendBufferLimitBytes = 64 * 1024;
            o.Limits.SlowConsumerPolicy = SlowConsumerPolicy.DropNewest;
        });
        await using var client = await gw.OpenRawAsync();

        // 20,000 items of 1 KiB produced without waiting while we read nothing: far more than the 64 KiB bound plus
        // what the kernel buffers.
        await client.SendRequestAsync("d", "t/burst", $"{{\"n\":{N},\"size\":1024}}");
        Assert.True(await Task.WhenAny(gw.Service.BurstEnded.Task, Task.Delay(TimeSpan.FromSeconds(20))) == gw.Service.BurstEnded.Task, "the burst did not end");

        long received = 0, previous = -1;
        while (true)
        {
            var m = await client.ReadMessageAsync(TimeSpan.FromSeconds(20));
            Assert.Equal("d", Wire.IdOf(m));
            if (m.TryGetProperty("done", out _)) break;
            long seq = SeqOf(m);
            Assert.True(seq > previous, $"item {seq} after {previous}: out of order or repeated");
            Assert.Equal(1024, PadOf(m).Length);
            previous = seq;
            received++;
        }
        output.WriteLine($"received {received}, dropped {gw.Metrics.FramesDropped} of {N}");
        Assert.True(gw.Metrics.FramesDropped > 0, "nothing was dropped: the test did not fill the send buffer");
        // Exactly the missing items were counted: a batch never loses an item silently, nor counts one it sent.
        Assert.Equal(N, received + gw.Metrics.FramesDropped);
        Assert.Equal(0, gw.Metrics.SlowConsumerCloses);
    }

    [Fact(Timeout = 60_000)]
    public async Task Close_policy_a_consumer_that_does_not_read_a_burst_gets_a_gapless_prefix_then_1008()
    {
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Limits.SendBufferLimitBytes = 64 * 1024;
            o.Limits.SlowConsumerPolicy = SlowConsumerPolicy.Close;
            o.Timeouts.Close = TimeSpan.FromSeconds(5);
        });
        await using var client = await gw.OpenRawAsync();

        await client.SendRequestAsync("k", "t/burst", "{\"n\":20000,\"size\":1024}");
        Assert.True(await Waits.WaitUntilAsync(() => gw.Metrics.SlowConsumerCloses >= 1, TimeSpan.FromSeconds(20)), "no slow-consumer close");

        var (messages, code, reason, after) = await client.ReadUntilCloseAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(1008, code);
        Assert.Equal("slow consumer", reason);
        Assert.Equal(0, after);
        Assert.All(messages, m => Assert.True(IsItem(m, "k"), m.GetRawText()));
        var seqs = messages.Select(SeqOf).ToArray();
        Assert.NotEmpty(seqs);
        Assert.Equal(Enumerable.Range(0, seqs.Length).Select(i => (long)i), seqs);
        Assert.Equal(0, gw.Metrics.FramesDropped);
        output.WriteLine($"{seqs.Length} items before the close");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_slow_consumer_of_small_items_that_arrive_one_at_a_time_does_not_pin_a_whole_batch_buffer_per_item()
    {
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Limits.SendBufferLimitBytes = 2 * 1024 * 1024;
            o.Limits.SlowConsumerPolicy = SlowConsumerPolicy.DropNewest;
        });
        await using var client = await gw.OpenRawAsync();
        long heapBefore = Wire.HeapAfterGc();

        // t/fast waits (Task.Yield) between items, so each batch holds one ~40-byte item; we stop reading. The output
        // pipe takes 1 MiB, so under the 2 MiB bound about 25,000 such batches wait in the outbox: with a 32 KiB buffer
        // each that is 800 MB, with a buffer sized to the batch (1 KiB, what one frame always took) about 25 MB.
        await client.SendRequestAsync("s", "t/fast", "{\"size\":8}");
        Assert.True(await Waits.WaitUntilAsync(() => gw.Metrics.FramesDropped >= 1_000, TimeSpan.FromSeconds(20)),
            $"dropped {gw.Metrics.FramesDropped} after 20 s (produced {gw.Service.Produced})");
        long heapGrowth = Wire.HeapAfterGc() - heapBefore;
        output.WriteLine($"produced {gw.Service.Produced}, dropped {gw.Metrics.FramesDropped}; heap growth {heapGrowth / 1_000_000.0:F1} MB");
        Assert.True(heapGrowth < 100_000_000, $"managed heap grew by {heapGrowth / 1_000_000.0:F1} MB while the consumer did not read");
        await client.SendAsync(Wire.TextFrame("{\"id\":\"s\",\"cancel\":true}"));
    }
}
