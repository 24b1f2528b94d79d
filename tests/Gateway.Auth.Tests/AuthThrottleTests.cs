using Gateway.Auth.Tests.Infrastructure;
using Gateway.Server.Auth;
using Microsoft.Extensions.Logging;

namespace Gateway.Auth.Tests;

/// <summary>Failure throttling per address (429 before any token work), failure counters, and tokens kept out of logs and metrics.</summary>
public sealed class AuthThrottleTests
{
    [Fact]
    public async Task An_address_with_too_many_failures_gets_429_before_its_token_is_checked()
    {
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Auth:FailureLimit"] = "3",
            ["Gateway:Auth:FailureWindow"] = "00:10:00",
        });
        string bad = Tokens.Create(Tokens.Hs256("wrong-secret-wrong-secret-wrong-secret-1"));
        for (int i = 0; i < 3; i++) Assert.Equal(401, (await gateway.HandshakeAsync(AuthGateway.Bearer(bad))).Status);

        // Now even a valid token from that address is not looked at.
        var answer = await gateway.HandshakeAsync(AuthGateway.Bearer(Tokens.Create()));
        Assert.Equal(429, answer.Status);
        Assert.Equal("RESOURCE_EXHAUSTED", answer.ErrorCode);
        Assert.Matches(@"Retry-After: \d+", answer.Head);
        Assert.True(answer.Json["error"]!["retryAfterMs"]!.GetValue<long>() > 0);
        Assert.Equal(0, gateway.Metrics.Authentications);
        Assert.Equal(3, gateway.Metrics.AuthFailures(AuthFailureReason.BadSignature));
        Assert.Equal(1, gateway.Metrics.AuthFailures(AuthFailureReason.Throttled));
        Assert.Contains(gateway.Logs.Entries, e => e.EventId == 601 && e.Message.Contains("127.0.0.1"));
        // Probes are not authentication: /healthz still answers.
        await using var probe = await RawClient.ConnectAsync(gateway.EndPoint);
        await probe.SendAsync("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(200, (await probe.ReadHttpHeadAsync()).Status);
    }

    [Fact]
    public void The_throttle_forgets_an_address_after_its_window()
    {
        var throttle = new FailureThrottle(2, TimeSpan.FromMilliseconds(1000));
        var address = System.Net.IPAddress.Parse("192.0.2.7");
        throttle.RecordFailure(address);
        Assert.False(throttle.IsBlocked(address, out _, out _));
        throttle.RecordFailure(System.Net.IPAddress.Parse("::ffff:192.0.2.7")); // the same client seen over a dual-stack socket
        Assert.True(throttle.IsBlocked(address, out var retryAfter, out int failures));
        Assert.Equal(2, failures);
        Assert.InRange(retryAfter, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1000));
        Assert.False(throttle.IsBlocked(System.Net.IPAddress.Parse("192.0.2.8"), out _, out _));
    }

    [Fact]
    public async Task Failures_are_counted_by_reason_on_metrics_without_any_token()
    {
        await using var gateway = await AuthGateway.StartAsync();
        string expired = Tokens.Create(expires: DateTime.UtcNow.AddSeconds(-5), notBefore: DateTime.UtcNow.AddMinutes(-5));
        await gateway.HandshakeAsync(AuthGateway.Bearer(expired));
        await gateway.HandshakeAsync();
        string text = await gateway.ScrapeAsync();
        Assert.Contains("gateway_auth_failures_total{reason=\"expired\"} 1", text);
        Assert.Contains("gateway_auth_failures_total{reason=\"missing\"} 1", text);
        Assert.DoesNotContain(expired, text);
        Assert.DoesNotContain(expired.Split('.')[2], text);
    }

    [Fact]
    public async Task No_token_reaches_any_log_line()
    {
        await using var gateway = await AuthGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Auth:Mode"] = "Optional",
            ["Gateway:Auth:Cookie"] = "gw",
            ["Gateway:Auth:FailureLimit"] = "0",
        });
        var tokens = new List<string>();
        string T(string? user = "ada", DateTime? expires = null, DateTime? notBefore = null, string? secret = null)
        {
            string t = Tokens.Create(secret is null ? null : Tokens.Hs256(secret), user: user, expires: expires, notBefore: notBefore);
            tokens.Add(t);
            return t;
        }
        // Every source, accepted and refused, plus $auth refusals.
        await gateway.HandshakeAsync(AuthGateway.Bearer(T()));
        await gateway.HandshakeAsync(subprotocols: "gateway.v1.json, bearer." + T());
        await gateway.HandshakeAsync(query: "?access_token=" + T());
        await gateway.HandshakeAsync(query: "?access_token=" + T(secret: "wrong-secret-wrong-secret-wrong-secret-1"));
        await gateway.HandshakeAsync($"Cookie: gw={T(expires: DateTime.UtcNow.AddSeconds(-5), notBefore: DateTime.UtcNow.AddMinutes(-2))}\r\n");
        await gateway.HandshakeAsync(AuthGateway.Bearer(T(user: null)));
        string garbage = "garbage-token-" + Guid.NewGuid().ToString("N");
        tokens.Add(garbage);
        await gateway.HandshakeAsync(AuthGateway.Bearer(garbage));
        await using (var client = await gateway.ConnectAsync(query: "?access_token=" + T()))
        {
            await client.CallAsync("$auth", new { token = T(user: "mallory") });
            await client.CallAsync("$auth", new { token = T(secret: "wrong-secret-wrong-secret-wrong-secret-1") });
            await client.ResultAsync("$auth", new { token = T() });
        }

        var entries = gateway.Logs.Entries;
        Assert.Contains(entries, e => e.EventId == 600); // refusals were logged...
        Assert.Contains(entries, e => e.Message.Contains("?access_token=(redacted)")); // ...and the upgrade line shows the redacted target
        foreach (var entry in entries)
        {
            string text = entry.Message + " " + entry.Exception;
            foreach (var token in tokens)
            {
                Assert.DoesNotContain(token, text);
                // Nor any part of a JWT that identifies it (its signature).
                if (token.Count(c => c == '.') == 2) Assert.DoesNotContain(token.Split('.')[2], text);
            }
        }
    }

    [Fact]
    public void Redacted_targets_keep_parameter_names_and_hide_values()
    {
        Assert.Equal("/ws", Credentials.RedactTarget("/ws", null));
        Assert.Equal("/ws?access_token=(redacted)&room=(redacted)&flag", Credentials.RedactTarget("/ws", "access_token=abc.def.ghi&room=1&flag"));
        Assert.Equal("/ws?(name)=(redacted)", Credentials.RedactTarget("/ws", "ey%2Ftoken=1"));
    }
}
