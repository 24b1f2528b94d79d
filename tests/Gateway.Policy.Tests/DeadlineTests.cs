using System.Diagnostics;
using System.Text.Json;
using Gateway.Tests.Shared;

namespace Gateway.Policy.Tests;

/// <summary>Timeouts:Request and [Rpc(TimeoutMs = …)]: DEADLINE_EXCEEDED (504) from the heartbeat, and the handler's token fires.</summary>
public class DeadlineTests
{
    private static void AssertDeadlineExceeded(JsonElement reply)
    {
        var error = reply.GetProperty("error");
        Assert.Equal("DEADLINE_EXCEEDED", error.GetProperty("code").GetString());
        Assert.Equal(504, error.GetProperty("status").GetInt32());
        Assert.True(error.GetProperty("retryable").GetBoolean());
    }

    [Fact(Timeout = 30_000)]
    public async Task A_call_past_Timeouts_Request_gets_DEADLINE_EXCEEDED_and_its_token_fires_while_fast_calls_are_unaffected()
    {
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Timeouts.Request = TimeSpan.FromMilliseconds(200);
            o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(20);
        });
        await using var client = await gw.OpenRawAsync();

        var clock = Stopwatch.StartNew();
        var reply = await client.CallAsync("b", "t/block");
        var elapsed = clock.Elapsed;
        AssertDeadlineExceeded(reply);
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(180), $"answered after {elapsed.TotalMilliseconds:F0} ms");
        Assert.True(elapsed < TimeSpan.FromSeconds(2), $"answered only after {elapsed.TotalMilliseconds:F0} ms");
        await gw.Service.BlockCancelled.Task.WaitAsync(TimeSpan.FromSeconds(5)); // the handler's token fired
        Assert.Equal(1, gw.Metrics.DeadlinesExceeded);

        // Fast calls, synchronous and asynchronous, are answered normally under the same deadline.
        Assert.True((await client.CallAsync("e", "t/echo", "{\"text\":\"fast\"}")).TryGetProperty("result", out _));
        var wait = await client.CallAsync("w", "t/wait", "{\"ms\":20}");
        Assert.Equal(20, wait.GetProperty("result").GetProperty("ms").GetInt32());

        // Subscriptions have no deadline, and [Rpc(TimeoutMs = -1)] opts out of the default: both outlive 200 ms.
        await client.SendRequestAsync("s", "t/hold");
        Assert.Equal("ready", (await client.ReadMessageAsync()).GetProperty("data").GetString());
        await client.SendRequestAsync("p", "t/patient", "{\"ms\":400}");
        var patient = await client.ReadReplyAsync("p", other: m => Assert.Fail("unexpected message (the stream was cut?): " + m.GetRawText()));
        Assert.Equal("done", patient.GetProperty("result").GetString());
        await client.SendAsync(Wire.TextFrame("{\"id\":\"s\",\"cancel\":true}"));
        await gw.Service.HoldCancelled.Task.WaitAsync(TimeSpan.FromSeconds(5));

        // Nothing more was sent for "b" (or "s") after its end: the next frame is the reply to the next call.
        await client.SendRequestAsync("last", "t/echo");
        var next = await client.ReadMessageAsync();
        Assert.Equal("last", Wire.IdOf(next));
        Assert.Equal(1, gw.Metrics.DeadlinesExceeded);
    }

    [Fact(Timeout = 30_000)]
    public async Task Rpc_TimeoutMs_overrides_a_longer_default()
    {
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Timeouts.Request = TimeSpan.FromSeconds(10);
            o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(20);
        });
        await using var client = await gw.OpenRawAsync();

        var clock = Stopwatch.StartNew();
        var reply = await client.CallAsync("s", "t/slow"); // the handler waits for its cancellation; [Rpc(TimeoutMs = 200)]
        var elapsed = clock.Elapsed;
        AssertDeadlineExceeded(reply);
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(180), $"answered after {elapsed.TotalMilliseconds:F0} ms");
        Assert.True(elapsed < TimeSpan.FromSeconds(2), $"answered only after {elapsed.TotalMilliseconds:F0} ms, not at its own 200 ms deadline");
        await gw.Service.SlowCancelled.Task.WaitAsync(TimeSpan.FromSeconds(5));

        // The 10 s default applies to the other procedures: a 300 ms wait is fine.
        var wait = await client.CallAsync("w", "t/wait", "{\"ms\":300}");
        Assert.Equal(300, wait.GetProperty("result").GetProperty("ms").GetInt32());
        Assert.Equal(1, gw.Metrics.DeadlinesExceeded);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_notification_past_its_deadline_is_stopped_but_never_answered()
    {
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Timeouts.Request = TimeSpan.FromMilliseconds(200);
            o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(20);
        });
        await using var client = await gw.OpenRawAsync();

        // A [Notification] handler that waits on its token, running past the 200 ms default deadline.
        await client.SendAsync(Wire.TextFrame("{\"path\":\"t/nap\"}"));
        Assert.True(await Waits.WaitUntilAsync(() => gw.Service.NapsStarted == 1), "t/nap did not start");

        // Regression test for a bug this suite found (fixed in the server).
        Assert.True(await Waits.WaitUntilAsync(() => gw.Service.NapsCancelled == 1, TimeSpan.FromSeconds(3)),
            $"the notification's token did not fire within 3 s of its 200 ms deadline (DeadlinesExceeded = {gw.Metrics.DeadlinesExceeded})");

        // A notification is never answered (PROTOCOL.md: "no id, never answered"; NotificationAttribute: "Nothing is
        // ever sent back, not even an error"): the next frame is the reply to the next request.
        await client.SendRequestAsync("next", "t/echo");
        var first = await client.ReadMessageAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("next", Wire.IdOf(first));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_notification_past_its_deadline_does_not_stop_pings_timeouts_and_deadlines_for_everyone_else()
    {
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.Timeouts.Request = TimeSpan.FromMilliseconds(200);
            o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(20);
            o.Timeouts.KeepAliveInterval = TimeSpan.FromMilliseconds(100);
            o.Timeouts.ClientTimeout = TimeSpan.FromMilliseconds(500);
        });
        await using var watcher = await gw.OpenRpcAsync();
        await watcher.NextPingAsync().WaitAsync(TimeSpan.FromSeconds(5)); // the heartbeat runs

        await using (var notifier = await gw.OpenRpcAsync())
        {
            await notifier.SendAsync(Wire.TextFrame("{\"path\":\"t/nap\"}"));
            Assert.True(await Waits.WaitUntilAsync(() => gw.Service.NapsStarted == 1), "t/nap did not start");
            Assert.True(await Waits.WaitUntilAsync(() => gw.Metrics.DeadlinesExceeded >= 1, TimeSpan.FromSeconds(3)), "the notification's deadline never came");
        }

        // Regression test for a bug this suite found (fixed in the server).
        int pingsBefore = watcher.PingTimes.Length;
        await Task.WhenAny(watcher.NextPingAsync(), Task.Delay(TimeSpan.FromSeconds(2))); // the next ping, or 2 s
        Assert.True(watcher.PingTimes.Length > pingsBefore, "no keep-alive ping in the 2 s after a notification passed its deadline (KeepAliveInterval 100 ms)");
        // ...a client that sends nothing is still closed after ClientTimeout...
        await using var silent = await gw.OpenRawAsync();
        Assert.Equal(1001, await silent.ReadCloseAsync(TimeSpan.FromSeconds(3)));
        // ...and a request still meets its deadline.
        var blocked = await watcher.CallAsync("t/block", timeout: TimeSpan.FromSeconds(3));
        Assert.Equal("DEADLINE_EXCEEDED", Wire.ErrorCode(blocked));
    }

    [Fact(Timeout = 30_000)]
    public async Task Every_running_notification_handler_is_cancelled_when_its_connection_closes()
    {
        await using var gw = await PolicyGateway.StartAsync(); // no deadlines here
        await using (var client = await gw.OpenRawAsync())
        {
            await client.SendAsync(Wire.Concat([Wire.TextFrame("{\"path\":\"t/nap\"}"), Wire.TextFrame("{\"path\":\"t/nap\"}"), Wire.TextFrame("{\"path\":\"t/nap\"}")]));
            Assert.True(await Waits.WaitUntilAsync(() => gw.Service.NapsStarted == 3), $"{gw.Service.NapsStarted} naps started");
            await client.SendAsync(RawClient.CloseFrame(1000));
            Assert.Equal(1000, await client.ReadCloseAsync());
        }
        // RpcContext.CancellationToken "fires when the caller cancels this call or the connection closes".
        // Regression test for a bug this suite found (fixed in the server).
        Assert.True(await Waits.WaitUntilAsync(() => gw.Service.NapsCancelled == 3, TimeSpan.FromSeconds(3)),
            $"{gw.Service.NapsCancelled} of 3 notification handlers were cancelled when the connection closed");
    }
}
