using System.IO.Compression;
using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>
/// RFC 7692 §6 on the wire: compressed messages in and out (RSV1 on the first frame only, per message, never on
/// control frames), fragmentation, the size limit on the inflated size, and context takeover in both directions.
/// </summary>
public class CompressedFrameTests
{
    private const string Offer = "permessage-deflate; client_max_window_bits";

    private static async Task<(TestGateway Gateway, RawClient Client)> OpenAsync(Action<Gateway.Server.Options.GatewayOptions>? configure = null, string offer = Offer)
    {
        var gw = await TestGateway.StartAsync(configure);
        var (c, extension) = await DeflateWire.OpenAsync(gw.EndPoint, offer);
        Assert.NotNull(extension);
        return (gw, c);
    }

    [Theory]
    [InlineData(Text, 1024)]
    [InlineData(Text, 200 * 1024)]
    [InlineData(Binary, 4096)]
    [InlineData(Text, 0)]
    public async Task Compressed_message_is_inflated_and_the_echo_comes_back_compressed(byte opcode, int size)
    {
        var (gw, c) = await OpenAsync();
        await using var _ = gw;
        await using var __ = c;
        // JSON in binary frames too: compressible, so the echo is compressed either way.
        byte[] payload = size == 0 ? [] : DeflateWire.Json(size);
        await c.SendAsync(RawClient.Frame(opcode, DeflateWire.Compress(payload), rsv: DeflateWire.Rsv1));
        var echo = await c.ReadFrameAsync(Normal);
        Assert.Equal(opcode, echo.Opcode);
        Assert.True(echo.Fin);
        if (size >= gw.Options.Compression.MinMessageBytes)
        {
            Assert.Equal(DeflateWire.Rsv1, echo.Rsv);
            Assert.True(echo.Payload.Length < payload.Length / 2, $"JSON of {payload.Length} bytes went out as {echo.Payload.Length}");
            AssertBytes(payload, DeflateWire.Inflate(echo.Payload));
        }
        else
        {
            Assert.Equal(0, echo.Rsv);
            AssertBytes(payload, echo.Payload);
        }
        Assert.Equal(1, gw.Server.Metrics.Compression!.MessagesInflated);
    }

    [Fact]
    public async Task Messages_under_the_threshold_and_uncompressed_ones_go_out_plain()
    {
        var (gw, c) = await OpenAsync(o => o.Compression.MinMessageBytes = 500);
        await using var _ = gw;
        await using var __ = c;
        var small = DeflateWire.Json(499);
        var large = DeflateWire.Json(501);
        // An uncompressed message from the client is fine on a compressed connection (RSV1 is per message).
        await c.SendAsync(RawClient.Frame(Text, small));
        var first = await c.ReadFrameAsync(Normal);
        Assert.Equal(0, first.Rsv);
        AssertBytes(small, first.Payload);
        await c.SendAsync(RawClient.Frame(Text, large));
        var second = await c.ReadFrameAsync(Normal);
        Assert.Equal(DeflateWire.Rsv1, second.Rsv);
        AssertBytes(large, DeflateWire.Inflate(second.Payload));
    }

    [Fact]
    public async Task Incompressible_data_goes_out_plain_without_context_takeover()
    {
        var (gw, c) = await OpenAsync();
        await using var _ = gw;
        await using var __ = c;
        var random = Payload(Binary, 8192, seed: 3);
        await c.SendAsync(RawClient.Frame(Binary, DeflateWire.Compress(random), rsv: DeflateWire.Rsv1));
        var echo = await c.ReadFrameAsync(Normal);
        Assert.Equal(0, echo.Rsv);
        AssertBytes(random, echo.Payload);
    }

    [Theory]
    [InlineData(2, false)]
    [InlineData(5, false)]
    [InlineData(3, true)]
    public async Task Fragmented_compressed_message_with_rsv1_on_the_first_frame_only(int parts, bool pingBetween)
    {
        var (gw, c) = await OpenAsync();
        await using var _ = gw;
        await using var __ = c;
        var payload = DeflateWire.Json(8000, seed: parts);
        var compressed = DeflateWire.Compress(payload);
        var frames = new List<byte[]>();
        for (int i = 0; i < parts; i++)
        {
            int from = compressed.Length * i / parts, to = compressed.Length * (i + 1) / parts;
            frames.Add(RawClient.Frame(i == 0 ? Text : Continuation, compressed[from..to], fin: i == parts - 1, rsv: i == 0 ? DeflateWire.Rsv1 : (byte)0));
            if (pingBetween && i == 0) frames.Add(RawClient.Frame(Ping, Utf8("between")));
        }
        // Byte by byte for the first frames, so the inflater also sees its input cut anywhere.
        await SendInPiecesAsync(c, Concat(frames.ToArray()), chunk: 7);
        if (pingBetween) await ExpectFrameAsync(c, Pong, Utf8("between"));
        var echo = await c.ReadFrameAsync(Normal);
        Assert.Equal(DeflateWire.Rsv1, echo.Rsv);
        AssertBytes(payload, DeflateWire.Inflate(echo.Payload));
    }

    [Fact]
    public async Task Rsv1_on_a_continuation_frame_is_1002()
    {
        var (gw, c) = await OpenAsync();
        await using var _ = gw;
        await using var __ = c;
        var compressed = DeflateWire.Compress(DeflateWire.Json(2000));
        int half = compressed.Length / 2;
        await c.SendAsync(Concat(
            RawClient.Frame(Text, compressed[..half], fin: false, rsv: DeflateWire.Rsv1),
            RawClient.Frame(Continuation, compressed[half..], fin: true, rsv: DeflateWire.Rsv1)));
        await ExpectCloseAsync(c, 1002);
        Assert.Equal(1, gw.Server.Metrics.ProtocolErrors(1002));
    }

    [Fact]
    public async Task Rsv1_on_a_continuation_of_an_uncompressed_message_is_1002()
    {
        var (gw, c) = await OpenAsync();
        await using var _ = gw;
        await using var __ = c;
        await c.SendAsync(Concat(RawClient.Frame(Text, Utf8("plain "), fin: false), RawClient.Frame(Continuation, DeflateWire.Compress(Utf8("x")), rsv: DeflateWire.Rsv1)));
        await ExpectCloseAsync(c, 1002);
    }

    [Theory]
    [InlineData(Ping)]
    [InlineData(Pong)]
    [InlineData(Close)]
    public async Task Compressed_control_frame_is_1002(byte opcode)
    {
        var (gw, c) = await OpenAsync();
        await using var _ = gw;
        await using var __ = c;
        await using var bystander = (await DeflateWire.OpenAsync(gw.EndPoint, Offer)).Client;
        byte[] body = opcode == Close ? [0x03, 0xE8] : Utf8("control");
        await c.SendAsync(RawClient.Frame(opcode, DeflateWire.Compress(body), rsv: DeflateWire.Rsv1));
        await ExpectCloseAsync(c, 1002);
        await AssertStillEchoesAsync(bystander);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(6)]
    public async Task Rsv2_or_rsv3_stay_1002_on_a_compressed_connection(byte rsv)
    {
        var (gw, c) = await OpenAsync();
        await using var _ = gw;
        await using var __ = c;
        await c.SendAsync(RawClient.Frame(Text, DeflateWire.Compress(Utf8("hi")), rsv: rsv));
        await ExpectCloseAsync(c, 1002);
    }

    [Fact]
    public async Task Invalid_deflate_data_is_1007()
    {
        var (gw, c) = await OpenAsync();
        await using var _ = gw;
        await using var __ = c;
        // BTYPE 11 is reserved: no inflater accepts it.
        await c.SendAsync(RawClient.Frame(Text, [0xFF, 0xFF, 0xFF, 0xFF], rsv: DeflateWire.Rsv1));
        await ExpectCloseAsync(c, 1007);
    }

    [Fact]
    public async Task Invalid_utf8_inside_a_compressed_text_message_is_1007()
    {
        var (gw, c) = await OpenAsync();
        await using var _ = gw;
        await using var __ = c;
        var bad = Concat(DeflateWire.Json(600), [0xC3, 0x28]);
        await c.SendAsync(RawClient.Frame(Text, DeflateWire.Compress(bad), rsv: DeflateWire.Rsv1));
        await ExpectCloseAsync(c, 1007);
    }

    [Fact]
    public async Task Message_at_the_limit_once_inflated_passes_and_one_byte_more_is_1009()
    {
        const int Limit = 64 * 1024;
        var (gw, c) = await OpenAsync(o => o.Limits.MaxMessageBytes = Limit);
        await using var _ = gw;
        await using var __ = c;
        var exact = new byte[Limit];
        Array.Fill(exact, (byte)'a');
        await c.SendAsync(RawClient.Frame(Text, DeflateWire.Compress(exact), rsv: DeflateWire.Rsv1));
        var reply = await c.ReadFrameAsync(Normal);
            AssertBytes(exact, DeflateWire.Inflate(reply.Payload));
        var over = new byte[Limit + 1];
        Array.Fill(over, (byte)'a');
        await c.SendAsync(RawClient.Frame(Text, DeflateWire.Compress(over), rsv: DeflateWire.Rsv1));
        await ExpectCloseAsync(c, 1009);
    }

    [Fact]
    public async Task Decompression_bomb_is_1009_without_inflating_it()
    {
        // 256 MiB of zeros deflate to about 256 KiB: well under the 1 MiB wire limit, 256 times over it inflated.
        const int Inflated = 256 * 1024 * 1024;
        byte[] bomb;
        {
            var output = new MemoryStream();
            using var deflate = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true);
            var zeros = new byte[1024 * 1024];
            for (int i = 0; i < Inflated / zeros.Length; i++) deflate.Write(zeros);
            deflate.Flush();
            bomb = output.ToArray()[..^4]; // RFC 7692: the sync flush's 00 00 FF FF is not sent
        }
        var (gw, c) = await OpenAsync();
        await using var _ = gw;
        await using var __ = c;
        await using var bystander = (await DeflateWire.OpenAsync(gw.EndPoint, Offer)).Client;
        Assert.True(bomb.Length < gw.Options.Limits.MaxMessageBytes, $"bomb of {bomb.Length} bytes");
        var frame = RawClient.Frame(Binary, bomb, rsv: DeflateWire.Rsv1);

        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        await c.SendAsync(frame);
        await ExpectCloseAsync(c, 1009);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        // The inflated bytes stop at the limit (1 MiB) plus one: a reader that inflated the whole bomb would allocate
        // 256 MiB. The bound leaves room for what other tests running in parallel allocate meanwhile.
        Assert.True(allocated < 64L * 1024 * 1024, $"the process allocated {allocated / (1024 * 1024)} MiB while failing a 256 MiB bomb");
        Assert.Equal(1, gw.Server.Metrics.ProtocolErrors(1009));
        Assert.True(await Waits.WaitUntilAsync(() => gw.Server.Metrics.PartialMessageBytes == 0), "the failed message's buffer was not given back");
        await AssertStillEchoesAsync(bystander);
    }

    [Fact]
    public async Task Client_context_takeover_lets_a_message_refer_to_the_previous_one()
    {
        var (gw, c) = await OpenAsync(o => o.Compression.ClientContextTakeover = true, offer: "permessage-deflate");
        await using var _ = gw;
        await using var __ = c;
        var compressor = new DeflateWire.Compressor();
        var message = DeflateWire.Json(3000, seed: 5);
        var first = compressor.Next(message);
        var second = compressor.Next(message);
        Assert.True(second.Length < first.Length / 4, "the second copy should be mostly a back-reference");
        for (int i = 0; i < 3; i++)
        {
            await c.SendAsync(RawClient.Frame(Text, i == 0 ? first : compressor.Next(message), rsv: DeflateWire.Rsv1));
            var echo = await c.ReadFrameAsync(Normal);
            AssertBytes(message, DeflateWire.Inflate(echo.Payload));
        }
        // The connection kept its own inflater between messages.
        Assert.Equal(1, gw.Server.Metrics.Compression!.InflatersCreated);
    }

    [Fact]
    public async Task Without_client_context_takeover_the_inflater_forgets_the_previous_message()
    {
        // The client agreed not to keep its context; one that still refers back fails instead of reading another
        // message's (or another connection's) data: the pooled inflater is reset between messages.
        var (gw, c) = await OpenAsync();
        await using var _ = gw;
        await using var __ = c;
        var compressor = new DeflateWire.Compressor();
        var message = DeflateWire.Json(3000, seed: 6);
        await c.SendAsync(RawClient.Frame(Text, compressor.Next(message), rsv: DeflateWire.Rsv1));
        var reply = await c.ReadFrameAsync(Normal);
            AssertBytes(message, DeflateWire.Inflate(reply.Payload));
        await c.SendAsync(RawClient.Frame(Text, compressor.Next(message), rsv: DeflateWire.Rsv1));
        await ExpectCloseAsync(c, 1007);
    }

    [Fact]
    public async Task Server_context_takeover_makes_a_repeated_message_refer_back()
    {
        var (gw, c) = await OpenAsync(o => o.Compression.ServerContextTakeover = true, offer: "permessage-deflate");
        await using var _ = gw;
        await using var __ = c;
        var message = DeflateWire.Json(3000, seed: 7);
        var payloads = new List<byte[]>();
        for (int i = 0; i < 3; i++)
        {
            await c.SendAsync(RawClient.Frame(Text, message));
            var echo = await c.ReadFrameAsync(Normal);
            Assert.Equal(DeflateWire.Rsv1, echo.Rsv);
            payloads.Add(echo.Payload);
        }
        Assert.True(payloads[1].Length < payloads[0].Length / 4, $"second copy {payloads[1].Length} bytes, first {payloads[0].Length}");
        // Inflated in order with one inflater (the client's kept context) they give the messages back...
        AssertBytes(Concat(message, message, message), DeflateWire.Inflate(payloads.ToArray()));
        // ...and the second alone cannot be inflated: it refers to the first.
        Assert.ThrowsAny<InvalidDataException>(() => DeflateWire.Inflate(payloads[1]));
    }

    [Fact]
    public async Task Without_server_context_takeover_every_message_inflates_alone()
    {
        var (gw, c) = await OpenAsync();
        await using var _ = gw;
        await using var __ = c;
        var message = DeflateWire.Json(3000, seed: 8);
        for (int i = 0; i < 3; i++)
        {
            await c.SendAsync(RawClient.Frame(Text, message));
            var echo = await c.ReadFrameAsync(Normal);
            Assert.Equal(DeflateWire.Rsv1, echo.Rsv);
            AssertBytes(message, DeflateWire.Inflate(echo.Payload));
        }
    }

    [Fact]
    public async Task An_idle_compressed_connection_holds_no_deflate_state()
    {
        var (gw, c) = await OpenAsync();
        await using var _ = gw;
        await using var __ = c;
        var message = DeflateWire.Json(3000, seed: 9);
        for (int i = 0; i < 5; i++)
        {
            await c.SendAsync(RawClient.Frame(Text, DeflateWire.Compress(message), rsv: DeflateWire.Rsv1));
            var reply = await c.ReadFrameAsync(Normal);
            AssertBytes(message, DeflateWire.Inflate(reply.Payload));
        }
        var session = gw.Server.Connections.Single().Session!;
        Assert.False(session.HoldsCompressionState, "an idle connection still holds deflate state");
        Assert.Equal(0, gw.Server.Metrics.PartialMessageBytes);
        // Five messages each way, one stream borrowed at a time: the pools did not grow per message.
        Assert.True(gw.Server.Metrics.Compression!.InflatersCreated <= 2);
        Assert.True(gw.Server.Metrics.Compression!.DeflatersCreated <= 2);
    }
}
