using System.Net;
using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;
using Gateway.Tests.Shared;
using Xunit.Abstractions;

namespace Gateway.Rpc.Tests.Push;

/// <summary>
/// A subscriber that stops reading, with a small Limits:SendBufferLimitBytes: the others still get every event, in
/// order; the slow one's events are dropped and counted (DropNewest) or it is closed with 1008 (Close). The publisher
/// goes at the pace of the reading subscribers (each event is received by them before the next is published), so only
/// the one that does not read can ever be over the limit. Publishing is bounded in count and time and stops a fixed
/// number of events after the slow one went over (the loopback kernel buffers take a few MB first).
/// </summary>
public sealed class SlowConsumerTests(ITestOutputHelper output)
{
    private const int SendLimit = 64 * 1024;
    private const int MaxPublishes = 1000;
    private const int AfterOverflow = 10;
    private const int MinDropped = 5;
    private static readonly TimeSpan PublishBudget = TimeSpan.FromSeconds(90);
    private static readonly string Pad = new('p', 32 * 1024);

    private static Dictionary<string, string?> Settings(string policy) => new()
    {
        ["Gateway:Limits:SendBufferLimitBytes"] = SendLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Gateway:Limits:SlowConsumerPolicy"] = policy,
        // Time for the slow one to read its backlog after the server's close frame.
        ["Gateway:Timeouts:Close"] = "00:00:30",
        // The slow one sends nothing (not even pongs) while it does not read: keep the heartbeat out of the way.
        ["Gateway:Timeouts:KeepAliveInterval"] = "00:02:00",
        ["Gateway:Timeouts:ClientTimeout"] = "00:05:00",
    };

    /// <summary>
    /// A raw WebSocket client on /ws subscribed to <paramref name="topic"/>. Its receive buffer is left alone: a tiny one
    /// (smaller than the loopback MSS) makes the kernel trickle data through zero-window probes once it reads again.
    /// </summary>
    private static async Task<RawClient> SlowSubscriberAsync(RpcGateway gateway, string topic) => (await SlowSubscriberWithIdAsync(gateway, topic)).Client;

    private static async Task<(RawClient Client, string Id)> SlowSubscriberWithIdAsync(RpcGateway gateway, string topic)
    {
        var raw = await RawClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.Port));
        var (status, head) = await raw.HandshakeAsync("/ws", RpcClient.Subprotocol);
        Assert.True(status == 101, head);
        await raw.SendTextAsync($$$"""{"id":"s","path":"$subscribe","input":{"topic":"{{{topic}}}"}}""");
        var reply = await NextTextAsync(raw);
        Assert.True(reply?["result"].Bool("subscribed") == true, reply?.ToJsonString());
        await raw.SendTextAsync("""{"id":"w","path":"push/whoami"}""");
        var who = await NextTextAsync(raw);
        return (raw, who.Str("result")!);
    }

    /// <summary>The next text message (pings and pongs skipped), or null for a close frame (its code goes to <paramref name="onClose"/>).</summary>
    private static async Task<JsonObject?> NextTextAsync(RawClient raw, Action<int>? onClose = null)
    {
        for (int i = 0; i < 100; i++)
        {
            var frame = await raw.TryReadFrameAsync(TimeSpan.FromSeconds(30));
            Assert.True(frame is not null, "TCP ended without a close frame");
            var f = frame.Value;
            if (f.Opcode == 1) return JsonNode.Parse(f.Payload)!.AsObject();
            if (f.Opcode == 8)
            {
                onClose?.Invoke(f.CloseCode);
                return null;
            }
            Assert.True(f.Opcode is 9 or 10, $"unexpected frame opcode {f.Opcode}");
        }
        throw new InvalidOperationException("100 control frames in a row");
    }

    /// <summary>
    /// Publishes {seq, pad}, each received by every reader (in order) before the next, until <paramref name="overflowed"/>
    /// holds, then <see cref="AfterOverflow"/> more; returns how many were published.
    /// </summary>
    private async Task<int> PublishUntilAsync(RpcClient publisher, string topic, RpcClient[] readers, Func<bool> overflowed)
    {
        var deadline = DateTime.UtcNow + PublishBudget;
        int seq = 0, extra = -1;
        while (seq < MaxPublishes && DateTime.UtcNow < deadline && extra < AfterOverflow)
        {
            await publisher.PublishAsync(topic, new { seq, pad = Pad });
            foreach (var r in readers)
            {
                var e = await r.NextEventAsync(TimeSpan.FromSeconds(30));
                Assert.Equal(topic, e.Str("topic"));
                long? got = e["data"].Long("seq");
                Assert.True(got == seq, $"a reading subscriber: event {seq} had seq {got?.ToString() ?? "none"}");
            }
            seq++;
            if (extra >= 0) extra++;
            else if (overflowed()) extra = 0;
        }
        output.WriteLine($"published {seq} events of {Pad.Length} bytes; overflow seen: {extra >= 0}");
        Assert.True(extra >= 0, $"the slow subscriber never went over the limit within {seq} publishes");
        foreach (var r in readers) await r.AssertNothingPushedAsync("every event exactly once");
        return seq;
    }

    [Fact]
    public async Task DropNewest_TheSlowSubscribersEventsAreDroppedAndCounted_TheOthersGetEveryOne()
    {
        await using var gateway = await PushKit.StartAsync(Settings("DropNewest"));
        var metrics = gateway.Metrics();
        string topic = PushKit.Room();
        await using var fast1 = await gateway.ConnectAsync();
        await using var fast2 = await gateway.ConnectAsync();
        await fast1.SubscribeAsync(topic);
        await fast2.SubscribeAsync(topic);
        await using var slow = await SlowSubscriberAsync(gateway, topic);
        await using var publisher = await gateway.ConnectAsync();
        long droppedBefore = metrics.FramesDropped;

        int published = await PublishUntilAsync(publisher, topic, [fast1, fast2], () => metrics.FramesDropped - droppedBefore >= MinDropped);

        long dropped = metrics.FramesDropped - droppedBefore;
        output.WriteLine($"dropped for the slow subscriber: {dropped}");
        Assert.True(dropped >= MinDropped, $"only {dropped} dropped");
        Assert.Equal(0, metrics.SlowConsumerCloses);

        // The slow one reads again: a ping (a reply, never dropped) comes after everything queued before it; what it
        // got is in order with gaps; and events published from now on reach it.
        await slow.SendTextAsync("""{"id":"p","path":"$ping"}""");
        var seqs = new List<long>();
        for (int i = 0; i <= published + 1; i++)
        {
            var m = await NextTextAsync(slow);
            Assert.True(m is not null, "closed under DropNewest");
            if (m.Str("id") == "p") break;
            Assert.Equal(topic, m.Str("topic"));
            seqs.Add(m["data"].Long("seq")!.Value);
        }
        output.WriteLine($"the slow subscriber got {seqs.Count} of {published} before its pong");
        Assert.True(seqs.Count < published, "the slow subscriber lost nothing although events were dropped");
        Assert.True(seqs.Zip(seqs.Skip(1)).All(p => p.First < p.Second), "out of order: " + string.Join(",", seqs));
        await publisher.PublishAsync(topic, new { seq = published, pad = "after" });
        var after = await NextTextAsync(slow);
        Assert.Equal(published, after?["data"].Long("seq"));
        await fast1.ExpectEventAsync("test.event", topic, new { seq = published, pad = "after" });
        await fast2.ExpectEventAsync("test.event", topic, new { seq = published, pad = "after" });
    }

    [Fact]
    public async Task Close_TheSlowSubscriberIsClosedWith1008AfterAGaplessPrefix_TheOthersGetEveryEvent()
    {
        await using var gateway = await PushKit.StartAsync(Settings("Close"));
        var metrics = gateway.Metrics();
        string topic = PushKit.Room();
        await using var fast1 = await gateway.ConnectAsync();
        await using var fast2 = await gateway.ConnectAsync();
        await fast1.SubscribeAsync(topic);
        await fast2.SubscribeAsync(topic);
        var (slowClient, slowId) = await SlowSubscriberWithIdAsync(gateway, topic);
        await using var slow = slowClient;
        await using var publisher = await gateway.ConnectAsync();
        Assert.Equal(3, gateway.Hub().SubscriberCount(topic));
        long closesBefore = metrics.SlowConsumerCloses;

        int published = await PublishUntilAsync(publisher, topic, [fast1, fast2], () => metrics.SlowConsumerCloses > closesBefore);

        Assert.Equal(1, metrics.SlowConsumerCloses - closesBefore);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, fast1.Socket.State);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, fast2.Socket.State);
        // Closing (the close frame is queued, the handshake not done): nothing more can be sent to it, nor asked of it.
        Assert.False(await publisher.BoolAsync("push/toConnection", new { connectionId = slowId, @event = "test.direct", data = 1 }));
        (await publisher.CallAsync("push/call", new { connectionId = slowId })).AssertError("UNAVAILABLE", 503);

        // The slow one reads what was queued before the close: events 0..k without a gap, then the close 1008.
        var seqs = new List<long>();
        int code = -1;
        for (int i = 0; i <= published + 1; i++)
        {
            var m = await NextTextAsync(slow, c => code = c);
            if (m is null) break;
            Assert.Equal(topic, m.Str("topic"));
            seqs.Add(m["data"].Long("seq")!.Value);
        }
        Assert.Equal(1008, code);
        output.WriteLine($"the slow subscriber got {seqs.Count} of {published} before its 1008");
        Assert.Equal(Enumerable.Range(0, seqs.Count).Select(i => (long)i), seqs);
        Assert.True(seqs.Count < published);
        await slow.SendAsync(RawClient.CloseFrame(1008));
        Assert.True(await slow.WaitForEndAsync(TimeSpan.FromSeconds(20)), "the server did not end TCP after the close handshake");

        Assert.True(await Waits.WaitUntilAsync(() => gateway.Hub().SubscriberCount(topic) == 2), $"subscribers: {gateway.Hub().SubscriberCount(topic)}");
        await publisher.PublishAsync(topic, new { seq = published, pad = "after" });
        await fast1.ExpectEventAsync("test.event", topic, new { seq = published, pad = "after" });
        await fast2.ExpectEventAsync("test.event", topic, new { seq = published, pad = "after" });
    }
}
