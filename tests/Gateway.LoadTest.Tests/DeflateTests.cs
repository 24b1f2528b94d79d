using Gateway.LoadTest.Cli;
using Gateway.LoadTest.Net;
using Gateway.LoadTest.Protocols;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.LoadTest.Tests;

/// <summary>
/// The load tool's --deflate against a real gateway (AddGateway, the sample plugin's echo/echo): it negotiates
/// permessage-deflate, its compressed requests are accepted, the server's compressed replies are inflated and matched,
/// and its byte counters add up to what the same requests cost uncompressed.
/// </summary>
public sealed class DeflateTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private const int Requests = 50;

    private static ConnectTarget Target(RpcGateway gateway, bool deflate) =>
        CommonOptions.ResolveTarget(gateway.Uri.ToString(), WireProtocol.Create("gateway")) with { Deflate = deflate };

    /// <summary>Runs <see cref="Requests"/> echo requests of ~1 KiB of chat text, one at a time; returns the connection (closed).</summary>
    private static async Task<(WsConnection Connection, long Sent, long Received, int FrameLength)> RunAsync(ConnectTarget target)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var connection = await WsConnection.ConnectAsync(target, null, 16 * 1024, cts.Token);
        long sent0 = connection.BytesSent, received0 = connection.BytesReceived;
        var template = target.Protocol.Echo(ChatText.Build(1024));
        connection.AddSlots(template, 1, isStream: false, expectedItems: 0);
        connection.Start();
        var slot = connection.Slots[0];
        for (int i = 0; i < Requests; i++)
        {
            var result = await connection.Execute(slot).AsTask().WaitAsync(Timeout);
            Assert.True(result.IsOk, $"request {i}: {Core.ErrorTable.Describe(result.ErrorId)} (connection: {connection.CloseReason})");
        }
        long sent = connection.BytesSent - sent0, received = connection.BytesReceived - received0;
        await connection.CloseAsync(TimeSpan.FromSeconds(2));
        return (connection, sent, received, slot.Frame.Length);
    }

    [Fact]
    public async Task Deflate_negotiates_compresses_requests_inflates_replies_and_counts_the_bytes()
    {
        await using var gateway = await RpcGateway.StartAsync([Plugins.Samples]);

        var plain = await RunAsync(Target(gateway, deflate: false));
        var deflated = await RunAsync(Target(gateway, deflate: true));

        Assert.False(plain.Connection.Compressed);
        Assert.True(deflated.Connection.Compressed, "the gateway did not accept the permessage-deflate offer");
        Assert.Equal(Requests, deflated.Connection.CompressedSent);
        // Every reply echoes ~1 KiB: over Compression:MinMessageBytes, so the server compressed each one.
        Assert.Equal(Requests, deflated.Connection.CompressedReceived);
        Assert.Equal(0, deflated.Connection.UnmatchedReplies);
        Assert.Equal(0, deflated.Connection.InvalidMessages);

        // Sent: what went on the wire plus what compression saved is exactly the uncompressed request frames.
        Assert.Equal(Requests * (long)deflated.FrameLength, deflated.Sent + deflated.Connection.SentBytesSaved);
        Assert.Equal(Requests * (long)plain.FrameLength, plain.Sent);
        // Received: the same replies uncompressed cost the plain connection exactly what the counters say they would have.
        Assert.Equal(plain.Received, deflated.Received + deflated.Connection.ReceivedBytesSaved);
        // 1 KiB of chat words, each message compressed on its own at level 1, shrinks by about a third (measured 0.64).
        Assert.True(deflated.Sent * 4 < plain.Sent * 3, $"sent {deflated.Sent} compressed vs {plain.Sent} plain");
        Assert.True(deflated.Received * 4 < plain.Received * 3, $"received {deflated.Received} compressed vs {plain.Received} plain");
    }

    [Fact]
    public async Task Deflate_offer_declined_by_the_server_runs_uncompressed()
    {
        await using var gateway = await RpcGateway.StartAsync([Plugins.Samples],
            new Dictionary<string, string?> { ["Gateway:Compression:Enabled"] = "false" });

        var run = await RunAsync(Target(gateway, deflate: true));

        Assert.False(run.Connection.Compressed);
        Assert.Equal(0, run.Connection.CompressedSent);
        Assert.Equal(0, run.Connection.CompressedReceived);
        Assert.Equal(Requests * (long)run.FrameLength, run.Sent);
    }

    [Theory]
    [InlineData("permessage-deflate; server_no_context_takeover; client_no_context_takeover", true)]
    [InlineData("permessage-deflate", false)]
    [InlineData("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12; server_no_context_takeover", true)]
    public void Answers_the_tool_accepts(string answer, bool serverNoContext)
    {
        using var codec = ClientDeflate.FromAnswer(answer, 1 << 20);
        Assert.NotNull(codec);
        Assert.Equal(serverNoContext, codec.ServerNoContextTakeover);
    }

    [Theory]
    [InlineData("x-webkit-deflate-frame")]
    [InlineData("permessage-deflate; foo")]
    [InlineData("permessage-deflate; server_max_window_bits=16")]
    [InlineData("permessage-deflate, permessage-deflate")]
    public void Answers_the_tool_refuses(string answer) =>
        Assert.Throws<HandshakeException>(() => ClientDeflate.FromAnswer(answer, 1 << 20));

    [Fact]
    public void Compressed_frame_inflates_back_to_the_original_payload()
    {
        using var codec = ClientDeflate.FromAnswer("permessage-deflate; server_no_context_takeover", 1 << 20)!;
        var text = System.Text.Encoding.ASCII.GetBytes(ChatText.Build(1024));
        var frame = Frames.BuildMasked(Frames.OpText, text, out _);

        var compressed = codec.Compress(frame).ToArray();

        Assert.Equal(0xC1, compressed[0]); // FIN, RSV1, text
        Assert.True(compressed.Length * 4 < frame.Length * 3, $"{compressed.Length} vs {frame.Length}");
        int code = compressed[1] & 0x7F;
        int header = code < 126 ? 2 : 4;
        Assert.Equal(0x80, compressed[1] & 0x80); // masked
        var payload = compressed.AsSpan(header + 4).ToArray();
        Frames.Mask(payload, compressed.AsSpan(header, 4), 0);
        // Server frames are inflated by the same code: a client frame's payload is the same deflate data.
        Assert.True(codec.TryInflate(payload, out var inflated, out var error), error);
        Assert.Equal(text, inflated.ToArray());
        // Twice: no context is carried from one message to the next.
        Assert.True(codec.TryInflate(payload, out inflated, out error), error);
        Assert.Equal(text, inflated.ToArray());
    }

    [Fact]
    public void Invalid_deflate_data_is_an_error_not_an_exception()
    {
        using var codec = ClientDeflate.FromAnswer("permessage-deflate; server_no_context_takeover", 1 << 20)!;
        Assert.False(codec.TryInflate([0xFF, 0xFF, 0xFF, 0xFF, 0xFF], out _, out var error));
        Assert.NotNull(error);
    }
}
