using System.Diagnostics;
using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.Backplane.Redis.Tests.Infrastructure;

/// <summary>What a run of probe publishes saw until one crossed nodes.</summary>
public sealed record ProbeRun(string Direction, string Tag, int Sent, IReadOnlyList<int> AcceptedIds, int Rejected, int FirstDelivered,
    TimeSpan FirstAcceptedAt, TimeSpan DeliveredAt, IReadOnlyList<string> Log)
{
    /// <summary>
    /// Accepted probes (the sender got a result) that the receiver never got, by what it has received so far: call it
    /// once later traffic proved that nothing is still on its way.
    /// </summary>
    public IReadOnlyList<int> AcceptedButLost(RpcClient receiver)
    {
        var seen = receiver.EventsNamed("chat.message").Select(m => m["data"].Str("text") ?? "").Where(t => t.StartsWith(Tag, StringComparison.Ordinal))
            .Select(t => int.Parse(t[Tag.Length..], System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        return AcceptedIds.Where(id => !seen.Contains(id)).ToList();
    }

    public void WriteTo(ITestOutputHelper output, RpcClient receiver)
    {
        var lost = AcceptedButLost(receiver);
        output.WriteLine($"probe run {Direction}: {Sent} sent, {AcceptedIds.Count} accepted, {Rejected} answered UNAVAILABLE, " +
                         $"{lost.Count} accepted but lost [{string.Join(",", lost)}]; first accepted at +{FirstAcceptedAt.TotalMilliseconds:0} ms, " +
                         $"first delivered probe #{FirstDelivered} seen at +{DeliveredAt.TotalMilliseconds:0} ms");
        foreach (var line in Log) output.WriteLine("  " + line);
    }
}

public static class Probes
{
    /// <summary>
    /// Publishes chat/send probes from <paramref name="sender"/> to a room until <paramref name="receiver"/> (a member,
    /// on another node) gets one: bounded by <paramref name="maxProbes"/> and <paramref name="limit"/>. Between probes it
    /// waits for the receiver's event (up to <paramref name="interval"/>), so it never sleeps for nothing. Times are
    /// measured from <paramref name="since"/> (e.g. when Redis answered PING again).
    /// </summary>
    public static async Task<ProbeRun> UntilDeliveredAsync(string direction, RpcClient sender, RpcClient receiver, string room, Stopwatch since,
        int maxProbes = 150, TimeSpan? limit = null, TimeSpan? interval = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(30));
        var wait = interval ?? TimeSpan.FromMilliseconds(200);
        string tag = "probe-" + direction + "-";
        var log = new List<string>();
        var acceptedIds = new List<int>();
        int sent = 0, rejected = 0;
        TimeSpan firstAccepted = TimeSpan.Zero;
        for (int i = 1; i <= maxProbes && DateTime.UtcNow < deadline; i++)
        {
            sent++;
            var sentAt = since.Elapsed;
            var reply = await sender.CallAsync("chat/send", new { room, text = tag + i }, timeout: TimeSpan.FromSeconds(15));
            var answeredAt = since.Elapsed;
            if (reply.IsResult())
            {
                if (acceptedIds.Count == 0) firstAccepted = answeredAt;
                acceptedIds.Add(i);
                log.Add($"#{i} +{sentAt.TotalMilliseconds:0} ms: accepted after {(answeredAt - sentAt).TotalMilliseconds:0} ms");
            }
            else
            {
                rejected++;
                log.Add($"#{i} +{sentAt.TotalMilliseconds:0} ms: {reply["error"].Str("code")} after {(answeredAt - sentAt).TotalMilliseconds:0} ms");
                // Never a silent success: a publish that did not reach Redis says so, and says it is worth retrying.
                Assert.Equal("UNAVAILABLE", reply["error"].Str("code"));
            }
            JsonObject? got = null;
            try
            {
                got = await receiver.NextEventAsync(m => m.Str("event") == "chat.message" && (m["data"].Str("text") ?? "").StartsWith(tag, StringComparison.Ordinal),
                    "a probe", wait);
            }
            catch (TimeoutException) { }
            if (got is null) continue;
            int first = int.Parse(got["data"].Str("text")![tag.Length..], System.Globalization.CultureInfo.InvariantCulture);
            var at = since.Elapsed;
            log.Add($"probe #{first} delivered, seen at +{at.TotalMilliseconds:0} ms");
            Assert.Contains(first, acceptedIds); // only an accepted publish can arrive
            return new ProbeRun(direction, tag, sent, acceptedIds, rejected, first, firstAccepted, at, log);
        }
        throw new TimeoutException($"no probe {direction} crossed nodes: {sent} sent, {acceptedIds.Count} accepted, {rejected} rejected:\n" + string.Join("\n", log));
    }
}
