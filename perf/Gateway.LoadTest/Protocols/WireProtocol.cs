using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace Gateway.LoadTest.Protocols;

public enum ReplyKind
{
    /// <summary>A request's successful terminal reply (for SignalR also a stream's completion).</summary>
    Result,
    Error,
    /// <summary>One stream item.</summary>
    Item,
    /// <summary>A stream's successful end.</summary>
    Done,
}

/// <summary>Receives what <see cref="WireProtocol.Parse"/> finds in one WebSocket message.</summary>
public interface IReplySink
{
    /// <param name="errorText">For <see cref="ReplyKind.Error"/>: the error code or message (UTF-8).</param>
    void OnReply(long id, ReplyKind kind, ReadOnlySpan<byte> errorText);
    /// <summary>The peer closes the session at the protocol level (SignalR's close message).</summary>
    void OnProtocolClose(string reason);
    void OnInvalidMessage();
}

/// <summary>
/// A request payload built once: <see cref="IdWidth"/> ASCII digits at <see cref="IdOffset"/> are the
/// only bytes that change between sends, patched in place. A publish (fanout) also has a send timestamp
/// (<see cref="FanoutText.StampWidth"/> digits at <see cref="StampOffset"/>) and a sequence number
/// (<see cref="FanoutText.SeqWidth"/> digits at <see cref="SeqOffset"/>) patched at each send; -1 when absent.
/// </summary>
public sealed record RequestTemplate(byte[] Payload, int IdOffset, bool IsText = true)
{
    public int StampOffset { get; init; } = -1;
    public int SeqOffset { get; init; } = -1;
}

/// <summary>One RPC dialect spoken over the WebSocket: builds the requests, parses the replies.</summary>
public abstract class WireProtocol
{
    /// <summary>Request ids are 12 decimal digits: 1, then 5 digits of slot, then 6 digits of sequence.</summary>
    public const int IdWidth = 12;
    public const long IdBase = 100_000_000_000;
    public const int MaxSlots = 100_000;
    public const int SeqModulo = 1_000_000;
    protected const string IdPlaceholder = "100000000000";

    public static long EncodeId(int slot, int seq) => IdBase + (long)slot * SeqModulo + seq;

    public static bool TryDecodeId(long id, out int slot, out int seq)
    {
        long v = id - IdBase;
        if (v < 0 || v >= (long)MaxSlots * SeqModulo) { slot = seq = 0; return false; }
        slot = (int)(v / SeqModulo);
        seq = (int)(v % SeqModulo);
        return true;
    }

    /// <summary>Writes the 12 digits of <paramref name="id"/>.</summary>
    public static void WriteId(Span<byte> destination, long id) => WriteDigits(destination[..IdWidth], id);

    /// <summary>Writes <paramref name="value"/> (≥ 0) as exactly destination.Length decimal digits, zero-padded (higher digits cut).</summary>
    public static void WriteDigits(Span<byte> destination, long value)
    {
        for (int i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (int)(value % 10));
            value /= 10;
        }
    }

    public abstract string Name { get; }
    /// <summary>Offered in Sec-WebSocket-Protocol, or null.</summary>
    public virtual string? SubProtocol => null;
    /// <summary>A first message the client sends after the upgrade (SignalR's handshake), or null.</summary>
    public virtual byte[]? HandshakeRequest => null;
    /// <summary>
    /// Reads the server's handshake answer at the start of <paramref name="message"/>; returns how many
    /// bytes it took (the rest are ordinary messages), or -1 with <paramref name="error"/> set.
    /// </summary>
    public virtual int ParseHandshakeResponse(ReadOnlySpan<byte> message, out string? error)
    {
        error = null;
        return 0;
    }
    /// <summary>A protocol-level keep-alive message, or null to send a WebSocket ping frame instead.</summary>
    public virtual byte[]? KeepAliveMessage => null;

    /// <summary>A unary echo request carrying <paramref name="text"/>.</summary>
    public abstract RequestTemplate Echo(string text);
    /// <summary>A subscription to a stream of <paramref name="items"/> items.</summary>
    public abstract RequestTemplate Count(int items);
    /// <summary>Fanout: subscribes the connection to <paramref name="topic"/> (the gateway's <c>$subscribe</c>).</summary>
    public virtual RequestTemplate Subscribe(string topic) => throw new NotSupportedException($"the {Name} protocol has no topics");
    /// <summary>Fanout: joins a chat room (the sample's <c>chat/join</c>, which subscribes to <c>room:NAME</c>).</summary>
    public virtual RequestTemplate Join(string room) => throw new NotSupportedException($"the {Name} protocol has no topics");
    /// <summary>Fanout: publishes <paramref name="text"/> (a <see cref="FanoutText"/>) to a chat room (<c>chat/send</c>).</summary>
    public virtual RequestTemplate Publish(string room, string text) => throw new NotSupportedException($"the {Name} protocol has no topics");
    public abstract void Parse(ReadOnlySpan<byte> message, IReplySink sink);

    /// <summary>
    /// One WebSocket message from the server: to <paramref name="events"/> when it is an event and a sink is set
    /// (fanout subscribers), else to <see cref="Parse"/>. Called on the connection's receive loop.
    /// </summary>
    public virtual void Route(ReadOnlySpan<byte> message, Net.IEventSink? events, long receivedAt, IReplySink sink)
    {
        if (events is not null && IsEvent(message)) events.OnEvent(message, receivedAt);
        else Parse(message, sink);
    }

    /// <summary>Whether the dialect has topics (the fanout scenario's $subscribe, chat/join, chat/send).</summary>
    public virtual bool HasTopics => false;
    /// <summary>A server event (fanout subscribers hand these to their event sink instead of <see cref="Parse"/>).</summary>
    public virtual bool IsEvent(ReadOnlySpan<byte> message) => message.StartsWith("{\"event\":"u8);
    /// <summary>For the probes before a run: the reply is an error.</summary>
    public virtual bool IsErrorReply(ReadOnlySpan<byte> message) => message.IndexOf("\"error\""u8) >= 0;
    /// <summary>For the probes before a run: the reply carries a result.</summary>
    public virtual bool IsResultReply(ReadOnlySpan<byte> message) => message.IndexOf("\"result\""u8) >= 0;
    /// <summary>Reads a fanout publish's stamp (<see cref="FanoutText"/>) out of an event's bytes.</summary>
    public virtual bool TryReadFanoutStamp(ReadOnlySpan<byte> message, ref int hint, out long sentAt, out int publisher, out long seq) =>
        FanoutText.TryRead(message, ref hint, out sentAt, out publisher, out seq);

    /// <param name="format">json (gateway.v1.json) or msgpack (gateway.v1.msgpack); the gateway protocol only.</param>
    public static WireProtocol Create(string name, string format = "json") => (name, format) switch
    {
        ("gateway", "json") => new GatewayProtocol(),
        ("gateway", "msgpack") => new GatewayMsgPackProtocol(),
        ("signalr", "json") => new SignalRProtocol(),
        ("signalr", _) => throw new ArgumentException("--format msgpack is for the gateway protocol (gateway.v1.msgpack); SignalR runs its JSON hub protocol here"),
        ("gateway", _) => throw new ArgumentException($"unknown format '{format}' (json, msgpack)"),
        _ => throw new ArgumentException($"unknown protocol '{name}' (gateway, signalr)"),
    };

    protected static RequestTemplate Template(string json, bool isText = true)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        int offset = bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(IdPlaceholder));
        if (offset < 0) throw new InvalidOperationException("template without an id placeholder");
        return new RequestTemplate(bytes, offset, isText);
    }

    /// <summary>A JSON-safe ASCII text of exactly <paramref name="length"/> bytes.</summary>
    public static string PayloadText(int length)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        return string.Create(length, 0, (span, _) =>
        {
            for (int i = 0; i < span.Length; i++) span[i] = alphabet[i % alphabet.Length];
        });
    }

    /// <summary>Reads a request id token (a JSON number, or a string of digits).</summary>
    protected static bool TryReadId(ref Utf8JsonReader reader, out long id)
    {
        id = 0;
        if (reader.TokenType == JsonTokenType.Number) return reader.TryGetInt64(out id);
        if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped)
            return Utf8Parser.TryParse(reader.ValueSpan, out id, out int consumed) && consumed == reader.ValueSpan.Length;
        return false;
    }
}
