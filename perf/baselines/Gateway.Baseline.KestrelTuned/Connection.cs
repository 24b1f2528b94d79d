using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;

namespace Gateway.Baseline.KestrelTuned;

/// <summary>
/// One WebSocket connection: a receive loop that parses each envelope with <see cref="Utf8JsonReader"/> and answers
/// synchronous procedures inline (no Task per request), and a single writer that drains the <see cref="Outbox"/> into
/// ManagedWebSocket with one write to Kestrel per batch (<see cref="BatchingStream"/>).
/// </summary>
public sealed class Connection
{
    /// <summary>The gateway's limit in bench-compare (Gateway:Limits:MaxMessageBytes=4194304).</summary>
    public const int MaxMessageBytes = 4 * 1024 * 1024;
    private const int MaxStreamItems = 100_000;
    private static long s_nextId;

    private readonly WebSocket _ws;
    private readonly BatchingStream _stream;
    private readonly HttpContext _http;
    private readonly TopicTable _topics;
    private readonly CancellationTokenSource _closed = new();
    private List<Topic>? _subscriptions;

    public Connection(WebSocket ws, BatchingStream stream, HttpContext http, TopicTable topics)
    {
        _ws = ws;
        _stream = stream;
        _http = http;
        _topics = topics;
        Id = "k" + Interlocked.Increment(ref s_nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public string Id { get; }
    public Outbox Outbox { get; } = new();

    /// <summary>Drops the connection (a slow consumer): the loops end on the aborted transport.</summary>
    public void Abort()
    {
        Outbox.Complete();
        _http.Abort();
    }

    public async Task RunAsync()
    {
        var writer = WriteLoopAsync();
        try
        {
            await ReceiveLoopAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer went away or the connection was aborted: nothing to answer.
        }
        finally
        {
            if (_subscriptions is { } topics)
                lock (topics) foreach (var t in topics) t.Remove(this);
            Outbox.Complete();
            _closed.Cancel();
        }
        if (await Task.WhenAny(writer, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false) == writer
            && _ws.State is WebSocketState.CloseReceived or WebSocketState.Open)
        {
            try { await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).ConfigureAwait(false); }
            catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException) { }
        }
        _ws.Dispose();
    }

    // ---------------------------------------------------------------- receive

    private async Task ReceiveLoopAsync()
    {
        var aborted = _http.RequestAborted;
        while (true)
        {
            // A zero-byte receive waits for the next frame without holding a buffer: an idle connection costs no
            // message buffer (Kestrel's transport does the same below us). When the stream has already read the
            // next message (a client's burst), waiting for it is a wasted pass through ManagedWebSocket: skipped.
            if (!_stream.HasBufferedData)
            {
                var first = await _ws.ReceiveAsync(Memory<byte>.Empty, aborted).ConfigureAwait(false);
                if (first.MessageType == WebSocketMessageType.Close) return;
                if (first.EndOfMessage)
                {
                    // An empty message ended with its header: answered (as malformed) rather than merged with the next.
                    OnMessage(default);
                    continue;
                }
            }

            byte[] buffer = ArrayPool<byte>.Shared.Rent(4096);
            try
            {
                int count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (count == buffer.Length)
                    {
                        if (buffer.Length >= MaxMessageBytes)
                        {
                            await _ws.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, "message too big", CancellationToken.None).ConfigureAwait(false);
                            return;
                        }
                        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, MaxMessageBytes));
                        buffer.AsSpan(0, count).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    result = await _ws.ReceiveAsync(buffer.AsMemory(count, Math.Min(buffer.Length, MaxMessageBytes) - count), aborted).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close) return;
                    count += result.Count;
                }
                while (!result.EndOfMessage);
                OnMessage(buffer.AsSpan(0, count));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            // TCP backpressure: a client that does not read its replies stops being read.
            if (Outbox.IsOverHighWater) await Outbox.WaitForRoomAsync().ConfigureAwait(false);
        }
    }

    private void OnMessage(ReadOnlySpan<byte> message)
    {
        ReadOnlySpan<byte> id = "null"u8, path = default, input = default;
        try
        {
            var reader = new Utf8JsonReader(message);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                Error(id, "INVALID_ARGUMENT", 400, "the message is not a JSON object");
                return;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    int start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    id = message[start..(int)reader.BytesConsumed];
                }
                else if (reader.ValueTextEquals("path"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped) path = reader.ValueSpan;
                }
                else if (reader.ValueTextEquals("input"u8))
                {
                    reader.Read();
                    int start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    input = message[start..(int)reader.BytesConsumed];
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            Error(id, "INVALID_ARGUMENT", 400, "malformed JSON");
            return;
        }

        try
        {
            if (path.SequenceEqual("echo/echo"u8)) Echo(id, input);
            else if (path.SequenceEqual("chat/send"u8)) Send(id, input);
            else if (path.SequenceEqual("echo/count"u8)) Count(id, input);
            else if (path.SequenceEqual("$ping"u8)) Reply(id, static w => w.WriteStringValue("pong"u8));
            else if (path.SequenceEqual("$subscribe"u8)) Subscribe(id, input);
            else if (path.SequenceEqual("chat/join"u8)) Join(id, input);
            else Error(id, "NOT_FOUND", 404, "no such procedure");
        }
        catch (JsonException)
        {
            Error(id, "INVALID_ARGUMENT", 400, "the input does not match the procedure's type");
        }
    }

    // ---------------------------------------------------------------- procedures (the sample plugin's)

    /// <summary>The gateway sample's echo/echo: any JSON in, the same JSON out (a <see cref="JsonElement"/>, as its handler takes).</summary>
    private void Echo(ReadOnlySpan<byte> id, ReadOnlySpan<byte> input)
    {
        JsonElement? value = input.IsEmpty ? null : JsonSerializer.Deserialize(input, BaselineJson.Default.JsonElement);
        // Sized from the input up front: a 1 MiB echo is written once rather than grown by doubling.
        var w = JsonOut.Begin(input.Length + id.Length + 32);
        w.WriteStartObject();
        w.WritePropertyName("id"u8);
        w.WriteRawValue(id, skipInputValidation: true);
        w.WritePropertyName("result"u8);
        if (value is { } v) v.WriteTo(w);
        else w.WriteNullValue();
        w.WriteEndObject();
        Outbox.TryEnqueue(JsonOut.End(w));
    }

    private void Count(ReadOnlySpan<byte> id, ReadOnlySpan<byte> input)
    {
        var count = input.IsEmpty ? null : JsonSerializer.Deserialize(input, BaselineJson.Default.CountInput);
        if (count is null || count.N is < 0 or > MaxStreamItems || count.DelayMs is < 0 or > 60_000)
        {
            Error(id, "INVALID_ARGUMENT", 400, "n is 0 to 100000, delayMs 0 to 60000");
            return;
        }
        // Runs synchronously until it has to wait (a delay, or the outbox over its high-water mark).
        _ = StreamAsync(id.ToArray(), count.N, count.DelayMs);
    }

    private async Task StreamAsync(byte[] id, int n, int delayMs)
    {
        var stream = new StreamState(id);
        try
        {
            for (int i = 0; i < n; i++)
            {
                if (delayMs > 0) await Task.Delay(delayMs, _closed.Token).ConfigureAwait(false);
                if (!Outbox.TryEnqueue(OutFrame.StreamItem(stream, i))) return;
                if (Outbox.IsOverHighWater) await Outbox.WaitForRoomAsync().ConfigureAwait(false);
            }
            Outbox.TryEnqueue(OutFrame.StreamEnd(stream));
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>The writer's own JSON writer for stream items, reused for every item it sends.</summary>
    private readonly System.Buffers.ArrayBufferWriter<byte> _itemBuffer = new(256);
    private Utf8JsonWriter? _itemWriter;

    private ReadOnlyMemory<byte> WriteItem(StreamState stream, int item)
    {
        _itemBuffer.ResetWrittenCount();
        var w = _itemWriter ??= new Utf8JsonWriter(_itemBuffer, new JsonWriterOptions { SkipValidation = true });
        w.Reset(_itemBuffer);
        w.WriteStartObject();
        w.WritePropertyName("id"u8);
        w.WriteRawValue(stream.Id, skipInputValidation: true);
        if (item >= 0)
        {
            w.WritePropertyName("data"u8);
            w.WriteStartObject();
            w.WriteNumber("i"u8, item);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("data"u8);
            w.WriteBoolean("done"u8, true);
        }
        w.WriteEndObject();
        w.Flush();
        return _itemBuffer.WrittenMemory;
    }

    private void Subscribe(ReadOnlySpan<byte> id, ReadOnlySpan<byte> input)
    {
        var topicInput = input.IsEmpty ? null : JsonSerializer.Deserialize(input, BaselineJson.Default.TopicInput);
        if (string.IsNullOrEmpty(topicInput?.Topic))
        {
            Error(id, "INVALID_ARGUMENT", 400, "topic is required");
            return;
        }
        string topic = topicInput.Topic;
        AddSubscription(topic);
        var w = JsonOut.Begin();
        w.WriteStartObject();
        w.WritePropertyName("id"u8);
        w.WriteRawValue(id, skipInputValidation: true);
        w.WritePropertyName("result"u8);
        w.WriteStartObject();
        w.WriteString("topic"u8, topic);
        w.WriteEndObject();
        w.WriteEndObject();
        Outbox.TryEnqueue(JsonOut.End(w));
    }

    private void Join(ReadOnlySpan<byte> id, ReadOnlySpan<byte> input)
    {
        var room = input.IsEmpty ? null : JsonSerializer.Deserialize(input, BaselineJson.Default.RoomInput);
        if (!IsRoom(room?.Room))
        {
            Error(id, "INVALID_ARGUMENT", 400, "room is 1 to 64 letters, digits, '-', '_' or '.'");
            return;
        }
        string topic = "room:" + room!.Room;
        AddSubscription(topic);
        RoomReply(id, room.Room!, topic);
    }

    private void Send(ReadOnlySpan<byte> id, ReadOnlySpan<byte> input)
    {
        var send = input.IsEmpty ? null : JsonSerializer.Deserialize(input, BaselineJson.Default.SendInput);
        if (!IsRoom(send?.Room) || string.IsNullOrEmpty(send!.Text) || send.Text.Length > 4000)
        {
            Error(id, "INVALID_ARGUMENT", 400, "room is 1 to 64 letters, digits, '-', '_' or '.'; text 1 to 4000 characters");
            return;
        }
        string topicName = "room:" + send.Room;
        if (_topics.Find(topicName) is { } topic)
        {
            // The event is serialized once for every subscriber (the sample's chat.message {room, from, text, sentAt}).
            var w = JsonOut.Begin();
            w.WriteStartObject();
            w.WriteString("event"u8, "chat.message"u8);
            w.WriteString("topic"u8, topicName);
            w.WritePropertyName("data"u8);
            w.WriteStartObject();
            w.WriteString("room"u8, send.Room);
            w.WriteString("from"u8, Id);
            w.WriteString("text"u8, send.Text);
            w.WriteString("sentAt"u8, DateTimeOffset.UtcNow);
            w.WriteEndObject();
            w.WriteEndObject();
            var (buffer, length) = JsonOut.EndDetached(w);
            TopicTable.Publish(topic, buffer, length);
        }
        RoomReply(id, send.Room!, topicName);
    }

    private void AddSubscription(string name)
    {
        var topic = _topics.GetOrAdd(name);
        if (!topic.Add(this)) return;
        var list = _subscriptions ??= [];
        lock (list) list.Add(topic);
    }

    private static bool IsRoom(string? room) =>
        room is { Length: > 0 and <= 64 } && room.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private void RoomReply(ReadOnlySpan<byte> id, string room, string topic)
    {
        var w = JsonOut.Begin();
        w.WriteStartObject();
        w.WritePropertyName("id"u8);
        w.WriteRawValue(id, skipInputValidation: true);
        w.WritePropertyName("result"u8);
        w.WriteStartObject();
        w.WriteString("room"u8, room);
        w.WriteString("topic"u8, topic);
        w.WriteEndObject();
        w.WriteEndObject();
        Outbox.TryEnqueue(JsonOut.End(w));
    }

    private void Reply(ReadOnlySpan<byte> id, Action<Utf8JsonWriter> result)
    {
        var w = JsonOut.Begin();
        w.WriteStartObject();
        w.WritePropertyName("id"u8);
        w.WriteRawValue(id, skipInputValidation: true);
        w.WritePropertyName("result"u8);
        result(w);
        w.WriteEndObject();
        Outbox.TryEnqueue(JsonOut.End(w));
    }

    private void Error(ReadOnlySpan<byte> id, string code, int status, string message)
    {
        var w = JsonOut.Begin();
        w.WriteStartObject();
        w.WritePropertyName("id"u8);
        w.WriteRawValue(id, skipInputValidation: true);
        w.WritePropertyName("error"u8);
        w.WriteStartObject();
        w.WriteString("code"u8, code);
        w.WriteNumber("status"u8, status);
        w.WriteString("message"u8, message);
        w.WriteBoolean("retryable"u8, false);
        w.WriteEndObject();
        w.WriteEndObject();
        Outbox.TryEnqueue(JsonOut.End(w));
    }

    // ---------------------------------------------------------------- the single writer

    /// <summary>
    /// Drains the outbox. It looks one message ahead: while another is already in hand, the frame goes into the
    /// <see cref="BatchingStream"/>'s buffer; the last one of a batch sends the whole batch in one write.
    /// </summary>
    private async Task WriteLoopAsync()
    {
        var reader = Outbox.Reader;
        OutFrame frame = default, next = default;
        bool holding = false, holdingNext = false;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                if (!reader.TryRead(out frame)) continue;
                holding = true;
                while (true)
                {
                    holdingNext = reader.TryRead(out next);
                    _stream.Deferring = holdingNext;
                    var payload = frame.Stream is { } stream ? WriteItem(stream, frame.Item) : frame.Memory;
                    await _ws.SendAsync(payload, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).ConfigureAwait(false);
                    holding = false;
                    Outbox.OnSent(frame.Length);
                    frame.Release();
                    if (!holdingNext) break;
                    frame = next;
                    holding = true;
                    holdingNext = false;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            _http.Abort();
        }
        finally
        {
            _stream.Deferring = false;
            if (holding) frame.Release();
            if (holdingNext) next.Release();
            Outbox.ReleaseQueued();
        }
    }
}
