using System.Buffers;
using System.Text.Json;
using Gateway.Client.Internal;
using MessagePack;

namespace Gateway.Client.Tests;

/// <summary>
/// The client's gateway.v1.msgpack codec on messages a real gateway does not send (the happy paths run against the
/// real gateway in CallTests/PushTests/ReconnectTests): odd ids and out-of-range values fail one call or are ignored,
/// never throw into the receive loop.
/// </summary>
public sealed class MessagePackCodecTests
{
    private readonly MessagePackClientCodec _codec = new(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    private delegate void Build(ref MessagePackWriter w);

    private static ReadOnlyMemory<byte> Message(Build build)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var w = new MessagePackWriter(buffer);
        build(ref w);
        w.Flush();
        return buffer.WrittenMemory;
    }

    [Fact]
    public void Ids_IntegerIsOurs_StringIsIgnored_OneBeyondInt64IsAProblemNotAThrow()
    {
        Assert.True(_codec.TryRead(Message((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write(7); w.Write("result"); w.Write(42); }), out var m, out _));
        Assert.True(m.HasId);
        Assert.Equal(7, m.Id);
        Assert.Equal(42, _codec.Read<int>(m.Result));

        Assert.True(_codec.TryRead(Message((ref MessagePackWriter w) => { w.WriteMapHeader(2); w.Write("id"); w.Write("s"); w.Write("result"); w.WriteNil(); }), out m, out _));
        Assert.False(m.HasId);

        Assert.False(_codec.TryRead(Message((ref MessagePackWriter w) => { w.WriteMapHeader(1); w.Write("id"); w.Write(ulong.MaxValue); }), out _, out var problem));
        Assert.StartsWith("invalid MessagePack", problem);
        Assert.False(_codec.TryRead(Message((ref MessagePackWriter w) => w.WriteArrayHeader(0)), out _, out problem));
        Assert.Equal("not a MessagePack map", problem);
    }

    [Theory]
    [InlineData("81a470617468dbffffffff")] // path: a str32 claiming 2^32 - 1 bytes
    [InlineData("81dbffffffff")]           // a key: the same
    [InlineData("81a26964dc0001")]        // id: an array that ends early
    public void AServerMessageWithALengthBeyondItsEnd_IsAProblemNotAThrow(string hex)
    {
        Assert.False(_codec.TryRead(Convert.FromHexString(hex), out _, out var problem));
        Assert.StartsWith("invalid MessagePack", problem);
    }

    [Fact]
    public void ErrorObject_WithAStatusBeyondInt32_StillFailsTheCallWithItsCode()
    {
        var error = Message((ref MessagePackWriter w) =>
        {
            w.WriteMapHeader(3);
            w.Write("code"); w.Write("UNAVAILABLE");
            w.Write("status"); w.Write(1L << 40);
            w.Write("message"); w.Write("later");
        });
        var ex = _codec.ReadError(error);
        Assert.Equal(RpcErrorCodes.Unavailable, ex.Code);
    }

    [Fact]
    public void AResultOfTheWrongShape_IsAJsonException_AsInTheJsonCodec()
    {
        var value = Message((ref MessagePackWriter w) => w.Write("not a number"));
        Assert.ThrowsAny<JsonException>(() => _codec.Read<int>(value));
    }
}
