using System.Buffers;
using System.Text;
using Gateway.Protocol.Compression;
using Gateway.Protocol.Http;

namespace Gateway.Protocol.Tests;

/// <summary>
/// A compressed connection's upgrade should cost no more than a plain one's once the server has seen its offer: the
/// negotiation of a known Sec-WebSocket-Extensions value allocates nothing and returns the parameters already agreed.
/// </summary>
public sealed class PerMessageDeflateOfferTests
{
    private static HttpRequestHead Request(params string[] extensions)
    {
        var head = new StringBuilder("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
            .Append("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n");
        foreach (var e in extensions) head.Append("Sec-WebSocket-Extensions: ").Append(e).Append("\r\n");
        var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(head.Append("\r\n").ToString()));
        var parsed = HttpRequestParser.TryParse(ref buffer, 8192, 64);
        Assert.Equal(HttpParseStatus.Done, parsed.Status);
        return parsed.Request!;
    }

    [Fact]
    public void A_known_offer_is_agreed_again_without_allocating()
    {
        var deflate = new PerMessageDeflate(new PerMessageDeflateSettings());
        var first = Request("permessage-deflate; client_no_context_takeover; server_no_context_takeover");
        var again = Request("permessage-deflate; client_no_context_takeover; server_no_context_takeover");
        var agreed = PerMessageDeflateNegotiation.Negotiate(first, deflate, out var declined);
        Assert.NotNull(agreed);
        Assert.Null(declined);
        PerMessageDeflateNegotiation.Negotiate(again, deflate, out _); // JIT of the fast path

        long before = GC.GetAllocatedBytesForCurrentThread();
        var second = PerMessageDeflateNegotiation.Negotiate(again, deflate, out declined);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Same(agreed, second);
        Assert.Null(declined);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void A_declined_first_offer_is_reported_every_time()
    {
        var deflate = new PerMessageDeflate(new PerMessageDeflateSettings());
        const string offers = "permessage-deflate; bogus, permessage-deflate";
        for (int i = 0; i < 2; i++)
        {
            var agreed = PerMessageDeflateNegotiation.Negotiate(Request(offers), deflate, out var declined);
            Assert.NotNull(agreed);
            Assert.Contains("bogus", declined);
        }
    }

    [Fact]
    public void Connections_that_agree_the_same_share_one_parameters_instance()
    {
        var settings = new PerMessageDeflateSettings();
        var a = PerMessageDeflateNegotiation.Negotiate(Request("permessage-deflate"), settings, out _);
        var b = PerMessageDeflateNegotiation.Negotiate(Request("permessage-deflate"), settings, out _);
        Assert.NotNull(a);
        Assert.Same(a, b);
    }
}
