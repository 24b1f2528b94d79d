using System.Buffers;
using System.Diagnostics;
using System.Text;
using Gateway.Protocol.Rpc;
using MessagePack;

namespace Gateway.Protocol.Tests;

/// <summary>
/// The envelope's optional <c>meta</c>: kept as a raw slice by both parsers (absent: nothing), its W3C trace context
/// read on demand; unknown members, a malformed or oversized traceparent and a non-object meta are ignored, never errors.
/// </summary>
public sealed class EnvelopeMetaTests
{
    private const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    private static Envelope ParseJson(string json)
    {
        var path = new char[JsonEnvelope.MaxPathLength];
        JsonEnvelope.Parse(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json)), path, out var envelope);
        return envelope;
    }

    private static Envelope ParseMessagePack(object message)
    {
        var path = new char[JsonEnvelope.MaxPathLength];
        MessagePackEnvelope.Parse(new ReadOnlySequence<byte>(MessagePackSerializer.Serialize(message)), path, out var envelope);
        return envelope;
    }

    [Fact]
    public void Json_MetaIsKept_AndItsTraceparentAndTracestateRead()
    {
        var e = ParseJson($$"""{"id":1,"path":"a/b","meta":{"x":{"y":[1,2]},"traceparent":"{{TraceParent}}","tracestate":"k=v"},"input":2}""");
        Assert.Equal(EnvelopeKind.Request, e.Kind);
        Assert.True(e.HasMeta);
        Assert.True(e.HasInput);
        Assert.True(EnvelopeMeta.TryReadJsonTraceContext(e.Meta, out var context));
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", context.TraceId.ToHexString());
        Assert.Equal("00f067aa0ba902b7", context.SpanId.ToHexString());
        Assert.Equal(ActivityTraceFlags.Recorded, context.TraceFlags);
        Assert.Equal("k=v", context.TraceState);
        Assert.True(context.IsRemote);
    }

    [Theory]
    [InlineData("""{"id":1,"path":"a/b"}""", false)]
    [InlineData("""{"id":1,"path":"a/b","meta":"junk"}""", false)]
    [InlineData("""{"id":1,"path":"a/b","meta":[1]}""", false)]
    [InlineData("""{"id":1,"path":"a/b","meta":{}}""", true)]
    [InlineData("""{"id":1,"path":"a/b","meta":{"traceparent":"00-zz-00f067aa0ba902b7-01"}}""", true)]
    [InlineData("""{"id":1,"path":"a/b","meta":{"traceparent":7}}""", true)]
    [InlineData("""{"id":1,"path":"a/b","meta":{"traceparent":"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}}""", true)]
    public void Json_AbsentOrUnusableMeta_IsNoErrorAndNoContext(string json, bool kept)
    {
        var e = ParseJson(json);
        Assert.Null(e.Problem);
        Assert.Equal(EnvelopeKind.Request, e.Kind);
        Assert.Equal(kept, e.HasMeta);
        if (kept) Assert.False(EnvelopeMeta.TryReadJsonTraceContext(e.Meta, out _));
    }

    [Fact]
    public void Json_AnOversizedTraceparent_IsIgnored()
    {
        var e = ParseJson($$$"""{"id":1,"path":"a/b","meta":{"traceparent":"{{{TraceParent + "-" + new string('a', 300)}}}"}}""");
        Assert.True(e.HasMeta);
        Assert.False(EnvelopeMeta.TryReadJsonTraceContext(e.Meta, out _));
    }

    [Fact]
    public void MessagePack_MetaIsKept_AndItsTraceparentRead()
    {
        var e = ParseMessagePack(new Dictionary<string, object?>
        {
            ["id"] = 1, ["path"] = "a/b",
            ["meta"] = new Dictionary<object, object?> { [3] = "int key", ["other"] = new[] { 1 }, ["traceparent"] = TraceParent, ["tracestate"] = "k=v" },
        });
        Assert.Equal(EnvelopeKind.Request, e.Kind);
        Assert.True(e.HasMeta);
        Assert.True(EnvelopeMeta.TryReadMessagePackTraceContext(e.Meta, out var context));
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", context.TraceId.ToHexString());
        Assert.Equal("k=v", context.TraceState);
    }

    [Fact]
    public void MessagePack_AbsentNonMapOrMalformedMeta_IsNoErrorAndNoContext()
    {
        Assert.False(ParseMessagePack(new Dictionary<string, object?> { ["id"] = 1, ["path"] = "a/b" }).HasMeta);
        var junk = ParseMessagePack(new Dictionary<string, object?> { ["id"] = 1, ["path"] = "a/b", ["meta"] = "junk" });
        Assert.Null(junk.Problem);
        Assert.False(junk.HasMeta);
        var bad = ParseMessagePack(new Dictionary<string, object?> { ["id"] = 1, ["path"] = "a/b", ["meta"] = new Dictionary<string, object?> { ["traceparent"] = "nope" } });
        Assert.Null(bad.Problem);
        Assert.True(bad.HasMeta);
        Assert.False(EnvelopeMeta.TryReadMessagePackTraceContext(bad.Meta, out _));
    }
}
