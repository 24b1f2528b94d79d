using System.Text.Json;

namespace Gateway.LoadTest.Protocols;

/// <summary>
/// The gateway's JSON envelope (gateway.v1.json): {"id":N,"path":"echo/echo","input":{...}} answered by
/// {"id":N,"result":...} / {"id":N,"error":{...}}; subscriptions by {"id":N,"data":...} … {"id":N,"data":null,"done":true}.
/// </summary>
public sealed class GatewayProtocol : WireProtocol
{
    public override string Name => "gateway";
    public override string? SubProtocol => "gateway.v1.json";
    public override bool HasTopics => true;

    public override RequestTemplate Echo(string text) =>
        Template($"{{\"id\":{IdPlaceholder},\"path\":\"echo/echo\",\"input\":{{\"text\":\"{text}\"}}}}");

    public override RequestTemplate Count(int items) =>
        Template($"{{\"id\":{IdPlaceholder},\"path\":\"echo/count\",\"input\":{{\"n\":{items},\"delayMs\":0}}}}");

    public override RequestTemplate Subscribe(string topic) =>
        Template($"{{\"id\":{IdPlaceholder},\"path\":\"$subscribe\",\"input\":{{\"topic\":\"{topic}\"}}}}");

    public override RequestTemplate Join(string room) =>
        Template($"{{\"id\":{IdPlaceholder},\"path\":\"chat/join\",\"input\":{{\"room\":\"{room}\"}}}}");

    public override RequestTemplate Publish(string room, string text)
    {
        var template = Template($"{{\"id\":{IdPlaceholder},\"path\":\"chat/send\",\"input\":{{\"room\":\"{room}\",\"text\":\"{text}\"}}}}");
        int textAt = template.Payload.AsSpan().IndexOf("\"text\":\""u8) + 8;
        return template with { StampOffset = textAt + FanoutText.StampAt, SeqOffset = textAt + FanoutText.SeqAt };
    }

    public override void Parse(ReadOnlySpan<byte> message, IReplySink sink)
    {
        try
        {
            ParseCore(message, sink);
        }
        catch (JsonException)
        {
            sink.OnInvalidMessage();
        }
    }

    private static void ParseCore(ReadOnlySpan<byte> message, IReplySink sink)
    {
        var reader = new Utf8JsonReader(message);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) { sink.OnInvalidMessage(); return; }
        long id = 0;
        bool hasId = false, hasResult = false, hasItem = false, dataNull = false, done = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                hasId = TryReadId(ref reader, out id);
                if (!hasId) return; // not one of ours
            }
            else if (reader.ValueTextEquals("result"u8))
            {
                // The server writes the id first: stop before reading a large result.
                if (hasId) { sink.OnReply(id, ReplyKind.Result, default); return; }
                reader.Read();
                reader.Skip();
                hasResult = true;
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                ReadOnlySpan<byte> code = "ERROR"u8;
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        bool isCode = reader.ValueTextEquals("code"u8);
                        reader.Read();
                        if (isCode && reader.TokenType == JsonTokenType.String) code = reader.ValueSpan;
                        else reader.Skip();
                    }
                }
                else reader.Skip();
                if (hasId) sink.OnReply(id, ReplyKind.Error, code);
                else sink.OnInvalidMessage();
                return;
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null) dataNull = true;
                else
                {
                    // Items never carry "done": report as soon as the id is known.
                    if (hasId) { sink.OnReply(id, ReplyKind.Item, default); return; }
                    reader.Skip();
                    hasItem = true;
                }
            }
            else if (reader.ValueTextEquals("done"u8))
            {
                reader.Read();
                done = reader.TokenType == JsonTokenType.True;
            }
            else if (reader.ValueTextEquals("path"u8) || reader.ValueTextEquals("event"u8))
            {
                return; // a call or an event from the server: not a reply to us
            }
            else
            {
                reader.Read(); // progress, cancel, unknown members
                reader.Skip();
            }
        }
        if (!hasId) return;
        if (hasResult) sink.OnReply(id, ReplyKind.Result, default);
        else if (done) sink.OnReply(id, ReplyKind.Done, default);
        else if (hasItem || dataNull) sink.OnReply(id, ReplyKind.Item, default);
    }
}
