using System.Text;
using Gateway.Tests.Shared;

namespace Gateway.Policy.Tests;

/// <summary>INTERNAL never carries exception text: the message is generic and no frame mentions the exception.</summary>
public class ErrorTests
{
    [Fact(Timeout = 30_000)]
    public async Task A_handler_exception_becomes_INTERNAL_internal_error_and_its_text_appears_in_no_frame()
    {
        await using var gw = await PolicyGateway.StartAsync();
        await using var client = await gw.OpenRawAsync();

        // Synchronous throw, asynchronous throw, and the synchronous one as a notification (never answered).
        await client.SendAsync(Wire.Concat([
            Wire.RequestFrame("sync", "t/throw"),
            Wire.RequestFrame("async", "t/throw-async"),
            Wire.TextFrame("{\"path\":\"t/throw\"}"),
            Wire.RequestFrame("after", "t/echo", "{\"text\":\"after\"}"),
        ]));

        var frames = new List<RawFrame>();
        var replies = new Dictionary<string, System.Text.Json.JsonElement>();
        while (replies.Count < 3)
        {
            var f = await client.ReadFrameAsync();
            frames.Add(f);
            if (f.Opcode != 1) continue;
            var m = Wire.Parse(f.Payload);
            replies[Wire.IdOf(m)!] = m;
        }
        Assert.Equal(["after", "async", "sync"], replies.Keys.Order().ToArray());

        foreach (var id in new[] { "sync", "async" })
        {
            var error = replies[id].GetProperty("error");
            Assert.Equal("INTERNAL", error.GetProperty("code").GetString());
            Assert.Equal(500, error.GetProperty("status").GetInt32());
            Assert.Equal("internal error", error.GetProperty("message").GetString());
            Assert.False(error.GetProperty("retryable").GetBoolean());
            Assert.False(error.TryGetProperty("details", out _));
        }
        Assert.Equal("after", replies["after"].GetProperty("result").GetProperty("text").GetString());

        foreach (var f in frames)
        {
            string text = Encoding.UTF8.GetString(f.Payload);
            Assert.DoesNotContain("secret", text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("InvalidOperation", text);
            Assert.DoesNotContain("Secret.cs", text);
            Assert.DoesNotContain(" at ", text);
        }
        Assert.Equal(2, gw.Metrics.InternalErrors);
    }
}
