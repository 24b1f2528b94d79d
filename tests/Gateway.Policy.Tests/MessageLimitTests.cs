using System.Text;
using Gateway.Tests.Shared;

namespace Gateway.Policy.Tests;

/// <summary>Limits:MaxMessageBytes (close 1009) and Limits:MaxBadMessages (close 1008 after that many invalid envelopes in a row).</summary>
public class MessageLimitTests
{
    private const int MaxMessage = 1024;

    private static string EchoWithText(string id, int totalBytes)
    {
        // Pad the text so that the whole envelope is exactly totalBytes.
        int pad = totalBytes - Encoding.UTF8.GetByteCount(Wire.Request(id, "t/echo", "{\"text\":\"\"}"));
        return Wire.Request(id, "t/echo", "{\"text\":\"" + new string('m', pad) + "\"}");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_message_declaring_more_than_MaxMessageBytes_closes_1009_and_one_at_the_limit_is_served()
    {
        await using var gw = await PolicyGateway.StartAsync(o => o.Limits.MaxMessageBytes = MaxMessage);
        await using var ok = await gw.OpenRawAsync();
        var atLimit = EchoWithText("at-limit", MaxMessage);
        Assert.Equal(MaxMessage, Encoding.UTF8.GetByteCount(atLimit));
        await ok.SendTextAsync(atLimit);
        var reply = await ok.ReadReplyAsync("at-limit");
        Assert.True(reply.TryGetProperty("result", out _), reply.GetRawText());

        await using var big = await gw.OpenRawAsync();
        var over = EchoWithText("over", MaxMessage + 1);
        await big.SendTextAsync(over);
        var (messages, code, _, after) = await big.ReadUntilCloseAsync();
        Assert.Empty(messages);
        Assert.Equal(1009, code);
        Assert.Equal(0, after);
        Assert.Equal(1, gw.Metrics.ProtocolErrors(1009));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_fragmented_message_growing_past_MaxMessageBytes_closes_1009_and_a_fragmented_one_under_it_is_served()
    {
        await using var gw = await PolicyGateway.StartAsync(o => o.Limits.MaxMessageBytes = MaxMessage);

        await using var ok = await gw.OpenRawAsync();
        var fits = Encoding.UTF8.GetBytes(EchoWithText("frag-ok", MaxMessage));
        await ok.SendAsync(RawClient.Frame(1, fits.AsSpan(0, 500), fin: false));
        await ok.SendAsync(RawClient.Frame(0, fits.AsSpan(500, 300), fin: false));
        await ok.SendAsync(RawClient.Frame(0, fits.AsSpan(800), fin: true));
        var reply = await ok.ReadReplyAsync("frag-ok");
        Assert.True(reply.TryGetProperty("result", out _), reply.GetRawText());

        await using var big = await gw.OpenRawAsync();
        var tooBig = Encoding.UTF8.GetBytes(EchoWithText("frag-over", MaxMessage + 200));
        // Each fragment is under the limit; together they are over it.
        await big.SendAsync(RawClient.Frame(1, tooBig.AsSpan(0, 600), fin: false));
        await big.SendAsync(RawClient.Frame(0, tooBig.AsSpan(600), fin: true));
        var (messages, code, _, after) = await big.ReadUntilCloseAsync();
        Assert.Empty(messages);
        Assert.Equal(1009, code);
        Assert.Equal(0, after);
        Assert.Equal("still", Wire.IdOf(await ok.CallAsync("still", "t/echo")));
    }

    [Fact(Timeout = 30_000)]
    public async Task MaxBadMessages_invalid_envelopes_in_a_row_close_1008_and_a_valid_one_in_between_resets_the_count()
    {
        await using var gw = await PolicyGateway.StartAsync(o => o.Limits.MaxBadMessages = 3);
        await using var client = await gw.OpenRawAsync();
        string[] bad = ["not json", "[1,2,3]", "{\"id\":\"b3\"}", "{\"id\":{},\"path\":\"t/echo\"}", "{\"id\":\"b5\",\"path\":\"\"}"];

        // bad, bad, valid, bad, bad: four invalid envelopes but never three in a row: each gets INVALID_ARGUMENT.
        await client.SendAsync(Wire.Concat([
            Wire.TextFrame(bad[0]), Wire.TextFrame(bad[1]),
            Wire.RequestFrame("valid", "t/echo", "{\"text\":\"v\"}"),
            Wire.TextFrame(bad[2]), Wire.TextFrame(bad[3]),
        ]));
        var replies = new List<System.Text.Json.JsonElement>();
        for (int i = 0; i < 5; i++) replies.Add(await client.ReadMessageAsync());
        Assert.Equal(new string?[] { "INVALID_ARGUMENT", "INVALID_ARGUMENT", null, "INVALID_ARGUMENT", "INVALID_ARGUMENT" }, replies.Select(Wire.ErrorCode).ToArray());
        Assert.Equal("valid", Wire.IdOf(replies[2]));
        Assert.Equal("b3", Wire.IdOf(replies[3])); // the id is echoed when it could be read
        Assert.Equal(400, replies[0].GetProperty("error").GetProperty("status").GetInt32());

        // The third in a row: its error, then close 1008, then nothing.
        await client.SendAsync(Wire.TextFrame(bad[4]));
        var (messages, code, reason, after) = await client.ReadUntilCloseAsync();
        Assert.Equal(new string?[] { "INVALID_ARGUMENT" }, messages.Select(Wire.ErrorCode).ToArray());
        Assert.Equal(1008, code);
        Assert.Equal("too many invalid messages", reason);
        Assert.Equal(0, after);
    }
}
