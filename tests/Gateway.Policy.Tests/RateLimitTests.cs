using System.Text.Json;
using Gateway.Server.Options;
using Gateway.Tests.Shared;

namespace Gateway.Policy.Tests;

/// <summary>RateLimits:PerConnection, RateLimits:Procedures and RateLimits:MaxRejectionsInRow.</summary>
public class RateLimitTests
{
    private static async Task<List<JsonElement>> SendAndReadAsync(RawClient client, int count, Func<int, byte[]> frame)
    {
        await client.SendAsync(Wire.Concat(Enumerable.Range(1, count).Select(frame)));
        var replies = new List<JsonElement>();
        for (int i = 0; i < count; i++) replies.Add(await client.ReadMessageAsync());
        return replies;
    }

    [Fact(Timeout = 30_000)]
    public async Task The_sixth_immediate_request_over_a_burst_of_5_gets_RESOURCE_EXHAUSTED_with_retryAfterMs_and_another_connection_is_unaffected()
    {
        await using var gw = await PolicyGateway.StartAsync(o => o.RateLimits.PerConnection = new RateLimitOptions { PermitsPerSecond = 10, Burst = 5 });
        await using var other = await gw.OpenRawAsync();
        await using var client = await gw.OpenRawAsync();

        var replies = await SendAndReadAsync(client, 6, i => Wire.RequestFrame(i, "t/echo", "{\"text\":\"r\"}"));
        Assert.All(replies.Take(5), r => Assert.True(r.TryGetProperty("result", out _), r.GetRawText()));
        var sixth = replies[5];
        Assert.Equal("6", Wire.IdOf(sixth));
        var error = sixth.GetProperty("error");
        Assert.Equal("RESOURCE_EXHAUSTED", error.GetProperty("code").GetString());
        Assert.Equal(429, error.GetProperty("status").GetInt32());
        Assert.True(error.GetProperty("retryable").GetBoolean());
        long retryAfter = error.GetProperty("retryAfterMs").GetInt64();
        Assert.InRange(retryAfter, 1, 100); // one token every 100 ms
        Assert.Equal(1, gw.Metrics.RateLimited);

        // Another connection has its own bucket: its burst of 5 all pass.
        var otherReplies = await SendAndReadAsync(other, 5, i => Wire.RequestFrame(i, "t/echo", "{\"text\":\"o\"}"));
        Assert.All(otherReplies, r => Assert.True(r.TryGetProperty("result", out _), r.GetRawText()));
        Assert.Equal(1, gw.Metrics.RateLimited);

        // Waiting out retryAfterMs is enough to be admitted again (awaiting the advertised time, not guessing).
        await Task.Delay(TimeSpan.FromMilliseconds(retryAfter + 20));
        var again = await client.CallAsync("again", "t/echo", "{\"text\":\"r\"}");
        Assert.True(again.TryGetProperty("result", out _), again.GetRawText());
    }

    [Fact(Timeout = 30_000)]
    public async Task A_per_procedure_limit_on_t_echo_limits_only_t_echo()
    {
        await using var gw = await PolicyGateway.StartAsync(o => o.RateLimits.Procedures["t/echo"] = new RateLimitOptions { PermitsPerSecond = 1, Burst = 2 });
        await using var client = await gw.OpenRawAsync();

        // echo, echo, echo, then ten t/other: the third echo is limited, every t/other passes.
        var replies = await SendAndReadAsync(client, 13, i => i <= 3 ? Wire.RequestFrame(i, "t/echo", "{\"text\":\"e\"}") : Wire.RequestFrame(i, "t/other"));
        Assert.True(replies[0].TryGetProperty("result", out _));
        Assert.True(replies[1].TryGetProperty("result", out _));
        Assert.Equal("RESOURCE_EXHAUSTED", Wire.ErrorCode(replies[2]));
        Assert.True(replies[2].GetProperty("error").GetProperty("retryAfterMs").GetInt64() > 0);
        Assert.All(replies.Skip(3), r => Assert.Equal(42, r.GetProperty("result").GetInt32()));
        Assert.Equal(1, gw.Metrics.RateLimited);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_call_refused_by_its_procedure_limit_does_not_use_up_the_connection_limit_of_other_procedures()
    {
        // Both limits at once: 5 calls per connection (no refill to speak of), and t/echo at most 1.
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.RateLimits.PerConnection = new RateLimitOptions { PermitsPerSecond = 0.001, Burst = 5 };
            o.RateLimits.Procedures["t/echo"] = new RateLimitOptions { PermitsPerSecond = 0.001, Burst = 1 };
        });
        await using var client = await gw.OpenRawAsync();

        // One t/echo passes, three more are refused by t/echo's own limit; then four t/other: 1 + 4 = 5 admitted
        // calls, within the connection's burst of 5, so every t/other must pass ("a per-procedure limit on t/echo
        // only limits t/echo").
        var replies = await SendAndReadAsync(client, 8, i => i <= 4 ? Wire.RequestFrame(i, "t/echo", "{\"text\":\"e\"}") : Wire.RequestFrame(i, "t/other"));
        Assert.True(replies[0].TryGetProperty("result", out _), replies[0].GetRawText());
        Assert.All(replies.Skip(1).Take(3), r => Assert.Equal("RESOURCE_EXHAUSTED", Wire.ErrorCode(r)));
        // Regression test for a bug this suite found (fixed in the server).
        Assert.Equal(new[] { "42", "42", "42", "42" },
            replies.Skip(4).Select(r => r.TryGetProperty("result", out var v) ? v.GetRawText() : Wire.ErrorCode(r)).ToArray());
        Assert.Equal(3, gw.Metrics.RateLimited);
    }

    [Fact(Timeout = 30_000)]
    public async Task MaxRejectionsInRow_closes_a_connection_that_keeps_calling_over_its_limit_with_1008()
    {
        await using var gw = await PolicyGateway.StartAsync(o =>
        {
            o.RateLimits.PerConnection = new RateLimitOptions { PermitsPerSecond = 1, Burst = 5 };
            o.RateLimits.MaxRejectionsInRow = 20;
        });
        await using var bystander = await gw.OpenRpcAsync();
        await using var abuser = await gw.OpenRawAsync();

        await abuser.SendAsync(Wire.Concat(Enumerable.Range(1, 100).Select(i => Wire.RequestFrame(i, "t/echo", "{\"text\":\"a\"}"))));
        var (messages, code, reason, after) = await abuser.ReadUntilCloseAsync();
        Assert.Equal(1008, code);
        Assert.Equal("rate limit exceeded repeatedly", reason);
        Assert.Equal(0, after);
        Assert.Equal(5, messages.Count(m => m.TryGetProperty("result", out _)));
        int limited = messages.Count(m => Wire.ErrorCode(m) == "RESOURCE_EXHAUSTED");
        // The 20th rejection is answered by the close itself (its error frame would come after the close frame).
        Assert.InRange(limited, 19, 20);
        Assert.Equal(5 + limited, messages.Count);
        Assert.Equal(20, gw.Metrics.RateLimited); // nothing after the close is even counted
        Assert.Equal("fine", await bystander.EchoAsync("fine"));
    }
}
