using Gateway.Server.Options;
using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>
/// RFC 7692 §5 and §7.1: what the server answers to permessage-deflate offers. A bad offer is declined (the next
/// one is tried) and never fails the upgrade; the connection then runs uncompressed and RSV1 stays a protocol error.
/// </summary>
public class CompressionNegotiationTests
{
    private const string NoContext = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

    public static TheoryData<string, string, string?> Offers() => new()
    {
        { "plain offer", "permessage-deflate", NoContext },
        { "client_max_window_bits without a value", "permessage-deflate; client_max_window_bits", NoContext },
        { "client_max_window_bits=10", "permessage-deflate; client_max_window_bits=10", NoContext + "; client_max_window_bits=10" },
        { "client_max_window_bits=8 (answered 8, inflated with 9)", "permessage-deflate; client_max_window_bits=8", NoContext + "; client_max_window_bits=8" },
        { "quoted client_max_window_bits", "permessage-deflate; client_max_window_bits=\"12\"", NoContext + "; client_max_window_bits=12" },
        { "server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10", NoContext + "; server_max_window_bits=10" },
        { "server_max_window_bits=15", "permessage-deflate; server_max_window_bits=15", NoContext + "; server_max_window_bits=15" },
        { "both no_context_takeover", "permessage-deflate; server_no_context_takeover; client_no_context_takeover", NoContext },
        { "upper-case names", "PerMessage-Deflate; Client_Max_Window_Bits", NoContext },
        { "spaces around separators", "permessage-deflate ;  client_max_window_bits = 11 ", NoContext + "; client_max_window_bits=11" },
        { "server_max_window_bits=8 (zlib cannot)", "permessage-deflate; server_max_window_bits=8", null },
        { "server_max_window_bits without a value", "permessage-deflate; server_max_window_bits", null },
        { "server_max_window_bits=16", "permessage-deflate; server_max_window_bits=16", null },
        { "server_max_window_bits=7", "permessage-deflate; server_max_window_bits=7", null },
        { "server_max_window_bits with a leading zero", "permessage-deflate; server_max_window_bits=010", null },
        { "server_max_window_bits not a number", "permessage-deflate; server_max_window_bits=ten", null },
        { "client_max_window_bits=16", "permessage-deflate; client_max_window_bits=16", null },
        { "client_max_window_bits empty after =", "permessage-deflate; client_max_window_bits=", null },
        { "server_no_context_takeover with a value", "permessage-deflate; server_no_context_takeover=1", null },
        { "client_no_context_takeover with a value", "permessage-deflate; client_no_context_takeover=true", null },
        { "unknown parameter", "permessage-deflate; foo", null },
        { "duplicate server_no_context_takeover", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", null },
        { "duplicate client_max_window_bits", "permessage-deflate; client_max_window_bits=10; client_max_window_bits=12", null },
        { "another extension only", "x-webkit-deflate-frame", null },
        { "bad offer, then a good one", "permessage-deflate; foo, permessage-deflate; client_max_window_bits=12", NoContext + "; client_max_window_bits=12" },
        { "another extension, then ours", "x-webkit-deflate-frame, permessage-deflate", NoContext },
        { "two bad offers", "permessage-deflate; server_max_window_bits=8, permessage-deflate; bar", null },
    };

    [Theory]
    [MemberData(nameof(Offers))]
    public async Task Offer_is_answered_and_the_upgrade_always_succeeds(string name, string offer, string? expected)
    {
        _ = name;
        await using var gw = await TestGateway.StartAsync();
        var (c, extension) = await DeflateWire.OpenAsync(gw.EndPoint, offer);
        await using (c)
        {
            Assert.Equal(expected, extension);
            // Either way the connection works; compressed or not as agreed.
            var payload = DeflateWire.Json(1024);
            if (extension is null)
            {
                await RoundTripAsync(c, Text, payload);
            }
            else
            {
                await c.SendAsync(RawClient.Frame(Text, DeflateWire.Compress(payload), rsv: DeflateWire.Rsv1));
                var echo = await c.ReadFrameAsync(Normal);
                Assert.Equal(DeflateWire.Rsv1, echo.Rsv);
                AssertBytes(payload, DeflateWire.Inflate(echo.Payload));
            }
        }
        Assert.Equal(expected is null ? 0 : 1, gw.Server.Metrics.CompressionNegotiations);
    }

    [Fact]
    public async Task A_declined_offer_is_counted()
    {
        await using var gw = await TestGateway.StartAsync();
        var (c, extension) = await DeflateWire.OpenAsync(gw.EndPoint, "permessage-deflate; server_max_window_bits=8, permessage-deflate; foo");
        await using (c) Assert.Null(extension);
        Assert.Equal(1, gw.Server.Metrics.CompressionDeclines);
        Assert.Equal(0, gw.Server.Metrics.CompressionNegotiations);
        Assert.Contains("gateway_compression_declined_total 1", gw.Server.Metrics.ToPrometheus());
    }

    [Fact]
    public async Task A_bad_offer_in_one_header_line_and_a_good_one_in_the_next()
    {
        await using var gw = await TestGateway.StartAsync();
        var (c, extension) = await DeflateWire.OpenAsync(gw.EndPoint, "permessage-deflate; client_max_window_bits=99", "permessage-deflate; server_max_window_bits=12");
        await using (c) Assert.Equal(NoContext + "; server_max_window_bits=12", extension);
    }

    public static TheoryData<string, Action<GatewayOptions>, string, string?> Configurations() => new()
    {
        { "server context takeover allowed", o => o.Compression.ServerContextTakeover = true, "permessage-deflate", "permessage-deflate; client_no_context_takeover" },
        { "client context takeover allowed", o => o.Compression.ClientContextTakeover = true, "permessage-deflate", "permessage-deflate; server_no_context_takeover" },
        { "both allowed, client asks for none", o => { o.Compression.ServerContextTakeover = true; o.Compression.ClientContextTakeover = true; }, "permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover" },
        { "both allowed", o => { o.Compression.ServerContextTakeover = true; o.Compression.ClientContextTakeover = true; }, "permessage-deflate", "permessage-deflate" },
        { "ClientMaxWindowBits 10, client can be limited", o => o.Compression.ClientMaxWindowBits = 10, "permessage-deflate; client_max_window_bits", NoContext + "; client_max_window_bits=10" },
        { "ClientMaxWindowBits 10, client cannot be limited", o => o.Compression.ClientMaxWindowBits = 10, "permessage-deflate", NoContext },
        { "ServerMaxWindowBits 11, not asked", o => o.Compression.ServerMaxWindowBits = 11, "permessage-deflate", NoContext + "; server_max_window_bits=11" },
        { "ServerMaxWindowBits 11, client asks 13", o => o.Compression.ServerMaxWindowBits = 11, "permessage-deflate; server_max_window_bits=13", NoContext + "; server_max_window_bits=11" },
        { "ServerMaxWindowBits 11, client asks 9", o => o.Compression.ServerMaxWindowBits = 11, "permessage-deflate; server_max_window_bits=9", NoContext + "; server_max_window_bits=9" },
        { "compression disabled", o => o.Compression.Enabled = false, "permessage-deflate", null },
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public async Task Configuration_shapes_the_answer(string name, Action<GatewayOptions> configure, string offer, string? expected)
    {
        _ = name;
        await using var gw = await TestGateway.StartAsync(configure);
        var (c, extension) = await DeflateWire.OpenAsync(gw.EndPoint, offer);
        await using (c)
        {
            Assert.Equal(expected, extension);
            var payload = DeflateWire.Json(2000);
            if (extension is null) await RoundTripAsync(c, Text, payload);
            else
            {
                await c.SendAsync(RawClient.Frame(Text, DeflateWire.Compress(payload), rsv: DeflateWire.Rsv1));
                var reply = await c.ReadFrameAsync(Normal);
            AssertBytes(payload, DeflateWire.Inflate(reply.Payload));
            }
        }
    }

    [Fact]
    public async Task Rsv1_is_a_protocol_error_when_the_offer_was_declined()
    {
        await ExpectFailureAsync(async c =>
        {
            await c.SendAsync(RawClient.Frame(Text, DeflateWire.Compress(Utf8("hello")), rsv: DeflateWire.Rsv1));
        }, 1002);
        await using var gw = await TestGateway.StartAsync();
        var (bad, extension) = await DeflateWire.OpenAsync(gw.EndPoint, "permessage-deflate; foo");
        await using (bad)
        {
            Assert.Null(extension);
            await bad.SendAsync(RawClient.Frame(Text, DeflateWire.Compress(Utf8("hello")), rsv: DeflateWire.Rsv1));
            await ExpectCloseAsync(bad, 1002);
        }
        // The offer was seen and refused (not ignored), and the connection ran uncompressed.
        Assert.Equal(1, gw.Server.Metrics.CompressionDeclines);
        Assert.Equal(0, gw.Server.Metrics.Compression!.MessagesInflated);
    }
}
