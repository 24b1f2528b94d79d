using System.Text.Json;
using Gateway.LoadTest.Cli;
using Gateway.LoadTest.Scenarios;

namespace Gateway.LoadTest.Tests;

/// <summary>
/// fanout's --inflate-sample against a real gateway with the sample plugin: with most subscribers counting events unread
/// (compressed or not), the run still accounts for every event the server queued and every delivery it owed.
/// </summary>
public sealed class InflateSampleTests : InProcessToolRun
{
    private const int Subscribers = 12, Sample = 4;

    private Task<JsonElement> RunAsync(params string[] args) =>
        RunToolAsync("fanout", ["--timeout", "5s", "--duration", "1s", "--warmup", "300ms", "--socket-completions", "pool",
            "--subscribers", Subscribers.ToString(), "--inflight", "4", "--payload", "1024", "--payload-kind", "text", .. args]);

    private static long Long(JsonElement report, string name) => (long)report.GetProperty(name).GetDouble();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_sampled_run_accounts_for_every_event_compressed_or_not(bool deflate)
    {
        var report = await RunAsync(deflate ? ["--inflate-sample", Sample.ToString(), "--deflate"] : ["--inflate-sample", Sample.ToString()]);

        long publishes = Long(report, "publishesInWindow");
        Assert.True(publishes > 0, "no publish in the window");
        Assert.Equal(Subscribers / Sample, Long(report, "sampledSubscribers"));
        Assert.Equal(publishes * Subscribers, Long(report, "expectedDeliveries"));
        Assert.Equal(publishes * Subscribers, Long(report, "deliveredEvents"));
        Assert.Equal(0, Long(report, "missingDeliveries"));
        // Every subscriber, sampled or not, has the window's events; latency only comes from the sampled ones.
        Assert.Equal(publishes, Long(report, "eventsPerSubscriberMin"));
        Assert.Equal(publishes, Long(report, "eventsPerSubscriberMax"));
        Assert.Equal(publishes * (Subscribers / Sample), report.GetProperty("deliveryLatencyUs").GetProperty("count").GetInt64());
        // What the client counted over the whole run is what the server says it queued to the subscribers, frame for frame.
        Assert.Equal(Long(report, "serverEventsDelivered"), Long(report, "clientEventsReceived"));
        Assert.Equal(0, Long(report, "serverSlowConsumerDrops"));
        if (deflate)
        {
            Assert.Equal(Subscribers + 1, Long(report, "deflateConnections"));
            // The unsampled subscribers' events were not inflated, but the uncompressed figure still covers them.
            Assert.True(Long(report, "bytesIn") * 4 < Long(report, "bytesInUncompressed") * 3,
                $"{Long(report, "bytesIn")} bytes in on the wire vs {Long(report, "bytesInUncompressed")} uncompressed");
        }
    }

    [Fact]
    public void An_unread_subscriber_that_lacks_events_has_them_charged_to_the_window()
    {
        // 100 publishes acknowledged since the load began, 60 of them sent in the window.
        Assert.Equal(60, FanoutAccounting.UnreadInWindow(ackedTotal: 100, ackedInWindow: 60, unread: 100));
        // More than owed (a publish that timed out at the client but was still delivered): never more than the window's.
        Assert.Equal(60, FanoutAccounting.UnreadInWindow(100, 60, 103));
        // 7 missing: whichever they were, the window is charged with all of them.
        Assert.Equal(53, FanoutAccounting.UnreadInWindow(100, 60, 93));
        // More missing than the window had: none of the window's arrived, as far as can be told.
        Assert.Equal(0, FanoutAccounting.UnreadInWindow(100, 60, 30));
    }

    [Fact]
    public async Task Inflate_sample_is_refused_where_a_message_may_hold_several_events()
    {
        var output = new StringWriter();
        var (stdout, stderr) = (Console.Out, Console.Error);
        Console.SetOut(output);
        Console.SetError(output);
        int exit;
        try
        {
            exit = await App.Main(["fanout", "--url", "ws://127.0.0.1:9/hub", "--protocol", "signalr", "--inflate-sample", "4", "--plain"]).WaitAsync(RunBound);
        }
        finally { Console.SetOut(stdout); Console.SetError(stderr); }
        Assert.Equal(App.ExitUsage, exit);
        Assert.Contains("--inflate-sample", output.ToString());
    }
}
