using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>
/// Issue 17's memory target: a connection that negotiated permessage-deflate (without context takeover, the default) and
/// is idle holds nothing for it beyond the plain connection's references: no native deflate state, and no compression
/// object of its own either; the inbound and outbound policies and the agreed parameters are shared by every
/// connection that agreed the same.
/// </summary>
public class CompressedIdleConnectionTests
{
    private const string Offer = "permessage-deflate; client_max_window_bits";

    private static async Task EchoCompressedAsync(RawClient c, int seed)
    {
        var message = DeflateWire.Json(2000, seed);
        await c.SendAsync(RawClient.Frame(Text, DeflateWire.Compress(message), rsv: DeflateWire.Rsv1));
        var reply = await c.ReadFrameAsync(Normal);
        Assert.Equal(DeflateWire.Rsv1, reply.Rsv);
        Assert.Equal(message, DeflateWire.Inflate(reply.Payload));
    }

    [Fact]
    public async Task Idle_compressed_connections_hold_no_compression_object_of_their_own()
    {
        await using var gw = await TestGateway.StartAsync();
        await using var a = (await DeflateWire.OpenAsync(gw.EndPoint, Offer)).Client;
        await using var b = (await DeflateWire.OpenAsync(gw.EndPoint, Offer)).Client;
        // Another offer (no client_max_window_bits), the same agreement: shared as well.
        await using var c = (await DeflateWire.OpenAsync(gw.EndPoint, "permessage-deflate")).Client;
        await EchoCompressedAsync(a, 1);
        await EchoCompressedAsync(b, 2);
        await EchoCompressedAsync(c, 3);

        var sessions = gw.Server.Connections.Select(x => x.Session!).ToArray();
        Assert.Equal(3, sessions.Length);
        Assert.All(sessions, s => Assert.False(s.HoldsCompressionState, $"connection {s.Id} still holds deflate state"));
        Assert.All(sessions, s => Assert.NotNull(s.Inflater));
        Assert.All(sessions, s => Assert.Same(sessions[0].Inflater, s.Inflater));
        Assert.All(sessions, s => Assert.Same(sessions[0].Deflater, s.Deflater));
        Assert.All(sessions, s => Assert.Same(sessions[0].Compression, s.Compression));
    }

    [Fact]
    public async Task With_context_takeover_every_connection_keeps_its_own()
    {
        await using var gw = await TestGateway.StartAsync(o =>
        {
            o.Compression.ClientContextTakeover = true;
            o.Compression.ServerContextTakeover = true;
        });
        await using var a = (await DeflateWire.OpenAsync(gw.EndPoint, "permessage-deflate")).Client;
        await using var b = (await DeflateWire.OpenAsync(gw.EndPoint, "permessage-deflate")).Client;
        await EchoCompressedAsync(a, 4);
        await EchoCompressedAsync(b, 5);

        var sessions = gw.Server.Connections.Select(x => x.Session!).ToArray();
        Assert.Equal(2, sessions.Length);
        Assert.NotSame(sessions[0].Inflater, sessions[1].Inflater);
        Assert.NotSame(sessions[0].Deflater, sessions[1].Deflater);
        Assert.All(sessions, s => Assert.True(s.HoldsCompressionState, $"connection {s.Id} dropped its context"));
    }
}
