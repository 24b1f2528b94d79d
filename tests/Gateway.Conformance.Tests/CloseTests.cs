using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>RFC 6455 §5.5.1, §7: the closing handshake and close status codes.</summary>
public class CloseTests
{
    [Theory]
    [InlineData(1000)]
    [InlineData(1001)]
    [InlineData(1002)]
    [InlineData(1003)]
    [InlineData(1007)]
    [InlineData(1008)]
    [InlineData(1009)]
    [InlineData(1010)]
    [InlineData(1011)]
    [InlineData(3000)]
    [InlineData(3999)]
    [InlineData(4000)]
    [InlineData(4999)]
    public async Task Valid_close_code_is_echoed_and_TCP_ends(int code)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await c.SendAsync(RawClient.CloseFrame((ushort)code, $"reason for {code} – ünïcödé"));
        await ExpectCloseAsync(c, code);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(4999)]
    public async Task Valid_close_code_without_reason_is_echoed(int code)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await c.SendAsync(RawClient.CloseFrame((ushort)code));
        await ExpectCloseAsync(c, code);
    }

    [Fact]
    public async Task Close_with_a_123_byte_reason_is_echoed()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var reason = new string('r', 120) + "€"; // 120 + 3 = 123 bytes, payload 125
        Assert.Equal(123, Utf8(reason).Length);
        await c.SendAsync(RawClient.CloseFrame(1000, reason));
        await ExpectCloseAsync(c, 1000);
    }

    [Fact]
    public async Task Empty_close_is_answered_with_an_empty_close()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await c.SendAsync(RawClient.Frame(Close, []));
        var frame = await ExpectCloseAsync(c, 0);
        Assert.Empty(frame.Payload);
    }

    [Theory]
    [InlineData(0x03)]
    [InlineData(0xE8)]
    public async Task Close_with_a_1_byte_payload_is_1002(byte b)
        => await ExpectFailureAsync(c => c.SendAsync(RawClient.Frame(Close, [b])), 1002);

    // CloseCodes.IsValidOnWire: 1000–1003, 1007–1011, 3000–4999 only.
    [Theory]
    [InlineData(0)]
    [InlineData(999)]
    [InlineData(1004)]
    [InlineData(1005)]
    [InlineData(1006)]
    [InlineData(1012)]
    [InlineData(1013)]
    [InlineData(1014)]
    [InlineData(1015)]
    [InlineData(1016)]
    [InlineData(1100)]
    [InlineData(2000)]
    [InlineData(2999)]
    [InlineData(5000)]
    [InlineData(65535)]
    public async Task Invalid_close_code_is_1002(int code)
        => await ExpectFailureAsync(c => c.SendAsync(RawClient.CloseFrame((ushort)code, "x")), 1002);

    [Theory]
    [InlineData("ED A0 80")]
    [InlineData("C0 80")]
    [InlineData("FF")]
    [InlineData("61 62 E2 82")]
    [InlineData("CE BA E1 BD B9 CF 83 CE BC CE B5 ED A0 80 65 64 69 74 65 64")]
    public async Task Close_reason_with_invalid_utf8_is_1007(string hex)
        => await ExpectFailureAsync(c => c.SendAsync(CloseFrame(1000, Hex(hex))), 1007);

    [Fact]
    public async Task Close_sent_in_pieces_is_echoed()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await SendInPiecesAsync(c, RawClient.CloseFrame(1001, "going"), 1);
        await ExpectCloseAsync(c, 1001);
    }

    // Nothing after the client's close is processed: the first frame back is the close, then TCP ends.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Data_sent_after_the_close_is_not_echoed(bool sameWrite)
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var close = RawClient.CloseFrame(1000, "bye");
        var after = Concat(RawClient.Frame(Text, Utf8("after close")), RawClient.Frame(Ping, Utf8("after close")));
        if (sameWrite) await c.SendAsync(Concat(close, after));
        else
        {
            await c.SendAsync(close);
            try { await c.SendAsync(after); } catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException) { }
        }
        await ExpectCloseAsync(c, 1000);
    }

    // Messages before the close are all echoed first.
    [Fact]
    public async Task Messages_before_the_close_are_echoed_before_the_close_reply()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await c.SendAsync(Concat(RawClient.Frame(Text, Utf8("one")), RawClient.Frame(Binary, [2]), RawClient.CloseFrame(1000)));
        await ExpectEchoAsync(c, Text, Utf8("one"));
        await ExpectEchoAsync(c, Binary, [2]);
        await ExpectCloseAsync(c, 1000);
    }

    // After a protocol error the server's close frame is its last frame: it closes TCP without waiting for our close reply.
    [Fact]
    public async Task After_a_protocol_error_the_close_frame_is_followed_by_the_end_of_TCP()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await c.SendAsync(RawClient.Frame(Text, Utf8("x"), rsv: 4));
        var frame = await c.ReadFrameAsync(Short);
        Assert.Equal(Close, frame.Opcode);
        Assert.Equal(1002, frame.CloseCode);
        Assert.True(await EndsAsync(c, Short), "TCP did not end after the server's close frame");
    }

    // Server-initiated close (shutdown): the server sends 1001, stops echoing, and ends TCP once the client answers.
    [Fact]
    public async Task Server_shutdown_sends_1001_and_completes_the_closing_handshake()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        await AssertStillEchoesAsync(c);
        var stopping = gw.Server.StopAsync();
        var frame = await c.ReadFrameAsync(Normal);
        Assert.Equal(Close, frame.Opcode);
        Assert.False(frame.Masked);
        Assert.Equal(1001, frame.CloseCode);
        // After its close the server must not send data: this message is not echoed and the ping not answered.
        await c.SendAsync(Concat(RawClient.Frame(Text, Utf8("too late")), RawClient.Frame(Ping, Utf8("too late")), RawClient.CloseFrame(1001)));
        var (rest, ended) = await DrainAsync(c.Socket, Normal);
        Assert.True(ended, "TCP did not end after the closing handshake");
        Assert.Empty(rest);
        // The server lingers until the client closes its side too (so its close frame is not lost to a RST).
        c.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Both);
        await stopping.WaitAsync(Normal);
    }

    // A client that never answers the server's close is dropped after Timeouts.Close.
    [Fact]
    public async Task Server_shutdown_drops_a_client_that_never_answers_the_close()
    {
        await using var gw = await TestGateway.StartAsync(o => o.Timeouts.Close = TimeSpan.FromMilliseconds(300));
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var stopping = gw.Server.StopAsync();
        var frame = await c.ReadFrameAsync(Normal);
        Assert.Equal(1001, frame.CloseCode);
        Assert.True(await EndsAsync(c, Normal), "the server kept the connection open");
        await stopping.WaitAsync(Normal);
    }
}
