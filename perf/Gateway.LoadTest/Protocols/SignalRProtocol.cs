using System.Text;
using System.Text.Json;

namespace Gateway.LoadTest.Protocols;

/// <summary>
/// ASP.NET Core SignalR's JSON hub protocol over a WebSocket connected straight to the hub path (as the
/// client's skipNegotiation does): handshake {"protocol":"json","version":1}␞ answered by {}␞; invocations
/// (type 1) answered by completions (type 3); stream invocations (type 4) answered by items (type 2) and a
/// completion; pings (type 6) ignored; close (type 7). Records end with 0x1E; several may share a frame.
/// </summary>
public sealed class SignalRProtocol : WireProtocol
{
    public const byte RecordSeparator = 0x1E;
    private static readonly byte[] Handshake = Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e");
    private static readonly byte[] Ping = Encoding.UTF8.GetBytes("{\"type\":6}\u001e");

    public override string Name => "signalr";
    public override byte[]? HandshakeRequest => Handshake;
    public override byte[]? KeepAliveMessage => Ping;

    public override RequestTemplate Echo(string text) =>
        Template($"{{\"type\":1,\"invocationId\":\"{IdPlaceholder}\",\"target\":\"Echo\",\"arguments\":[{{\"text\":\"{text}\"}}]}}\u001e");

    public override RequestTemplate Count(int items) =>
        Template($"{{\"type\":4,\"invocationId\":\"{IdPlaceholder}\",\"target\":\"Count\",\"arguments\":[{{\"n\":{items},\"delayMs\":0}}]}}\u001e");

    public override bool HasTopics => true;

    // Topics are SignalR groups on the baseline hub: Subscribe(topic), Join(room), Send(room, text) → "chat.message" to the group.
    public override RequestTemplate Subscribe(string topic) =>
        Template($"{{\"type\":1,\"invocationId\":\"{IdPlaceholder}\",\"target\":\"Subscribe\",\"arguments\":[{{\"topic\":\"{topic}\"}}]}}\u001e");

    public override RequestTemplate Join(string room) =>
        Template($"{{\"type\":1,\"invocationId\":\"{IdPlaceholder}\",\"target\":\"Join\",\"arguments\":[{{\"room\":\"{room}\"}}]}}\u001e");

    public override RequestTemplate Publish(string room, string text)
    {
        var template = Template($"{{\"type\":1,\"invocationId\":\"{IdPlaceholder}\",\"target\":\"Send\",\"arguments\":[{{\"room\":\"{room}\",\"text\":\"{text}\"}}]}}\u001e");
        int textAt = template.Payload.AsSpan().IndexOf("\"text\":\""u8) + 8;
        return template with { StampOffset = textAt + FanoutText.StampAt, SeqOffset = textAt + FanoutText.SeqAt };
    }

    /// <summary>An invocation without an id: the server calling a client method (an event to the group).</summary>
    public override bool IsEvent(ReadOnlySpan<byte> message) => message.StartsWith("{\"type\":1,\"target\":"u8);

    /// <summary>
    /// SignalR's WebSocket transport sends whatever its output pipe holds as one WebSocket message, so events and
    /// completions can share a frame: each record goes to the event sink or the reply parser on its own.
    /// </summary>
    public override void Route(ReadOnlySpan<byte> message, Net.IEventSink? events, long receivedAt, IReplySink sink)
    {
        if (events is null) { Parse(message, sink); return; }
        while (!message.IsEmpty)
        {
            int end = message.IndexOf(RecordSeparator);
            var record = end < 0 ? message : message[..end];
            message = end < 0 ? default : message[(end + 1)..];
            if (record.IsEmpty) continue;
            if (IsEvent(record)) events.OnEvent(record, receivedAt);
            else Parse(record, sink);
        }
    }

    public override int ParseHandshakeResponse(ReadOnlySpan<byte> message, out string? error)
    {
        error = null;
        int end = message.IndexOf(RecordSeparator);
        if (end < 0)
        {
            error = "SignalR handshake response without a record separator";
            return -1;
        }
        try
        {
            var reader = new Utf8JsonReader(message[..end]);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) { error = "SignalR handshake response is not a JSON object"; return -1; }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isError = reader.ValueTextEquals("error"u8);
                reader.Read();
                if (isError) { error = "SignalR handshake refused: " + reader.GetString(); return -1; }
                reader.Skip();
            }
        }
        catch (JsonException ex)
        {
            error = "SignalR handshake response: " + ex.Message;
            return -1;
        }
        return end + 1;
    }

    public override void Parse(ReadOnlySpan<byte> message, IReplySink sink)
    {
        while (!message.IsEmpty)
        {
            int end = message.IndexOf(RecordSeparator);
            var record = end < 0 ? message : message[..end];
            message = end < 0 ? default : message[(end + 1)..];
            if (record.IsEmpty) continue;
            try
            {
                ParseRecord(record, sink);
            }
            catch (JsonException)
            {
                sink.OnInvalidMessage();
            }
        }
    }

    private static void ParseRecord(ReadOnlySpan<byte> record, IReplySink sink)
    {
        var reader = new Utf8JsonReader(record);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) { sink.OnInvalidMessage(); return; }
        int type = -1;
        long id = 0;
        bool hasId = false, hasResult = false;
        ReadOnlySpan<byte> error = default;
        bool hasError = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                if (!reader.TryGetInt32(out type)) return;
                if (type is 6) return; // ping
            }
            else if (reader.ValueTextEquals("invocationId"u8))
            {
                reader.Read();
                hasId = TryReadId(ref reader, out id);
                if (!hasId) return;
            }
            else if (reader.ValueTextEquals("result"u8) || reader.ValueTextEquals("item"u8))
            {
                // The server writes type and invocationId first: stop before reading a large value.
                if (hasId && type is 2 or 3) break;
                reader.Read();
                reader.Skip();
                hasResult = true;
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                hasError = true;
                error = reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped ? reader.ValueSpan : "error"u8;
                if (type == 7)
                {
                    sink.OnProtocolClose(reader.TokenType == JsonTokenType.String ? "SignalR close: " + reader.GetString() : "SignalR close");
                    return;
                }
            }
            else
            {
                reader.Read(); // target, arguments, headers, allowReconnect, ...
                reader.Skip();
            }
        }
        _ = hasResult;
        switch (type)
        {
            case 2 when hasId:
                sink.OnReply(id, ReplyKind.Item, default);
                break;
            case 3 when hasId:
                if (hasError) sink.OnReply(id, ReplyKind.Error, error);
                else sink.OnReply(id, ReplyKind.Result, default);
                break;
            case 7:
                sink.OnProtocolClose("SignalR close");
                break;
        }
    }
}
