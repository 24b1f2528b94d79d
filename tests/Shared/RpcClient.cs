using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Gateway.Tests.Shared;

/// <summary>
/// A gateway.v1.json client over <see cref="ClientWebSocket"/>. A background loop receives every message, parses it
/// with System.Text.Json and routes it: to a channel per request id (result, error, data, done, progress) and to a
/// channel of everything. Tests await "the next message for id X" or "the next message" with a timeout; nothing sleeps.
/// Ids are keyed by their JSON text: <c>7</c> and <c>"7"</c> are different ids.
/// </summary>
public sealed class RpcClient : IAsyncDisposable
{
    public const string Subprotocol = "gateway.v1.json";
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private readonly ClientWebSocket _ws;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly object _routeLock = new();
    private readonly Dictionary<string, Channel<JsonObject>> _byId = new(StringComparer.Ordinal);
    private readonly Channel<JsonObject> _all = Channel.CreateUnbounded<JsonObject>();
    // Server push: events ({"event":…}) and calls from the server ({"id":n,"path":…}); neither goes to an id channel.
    private readonly Channel<JsonObject> _events = Channel.CreateUnbounded<JsonObject>();
    private readonly Channel<JsonObject> _serverCalls = Channel.CreateUnbounded<JsonObject>();
    private readonly ConcurrentQueue<JsonObject> _received = new();
    private readonly TaskCompletionSource<WebSocketCloseStatus?> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _receiveLoop = Task.CompletedTask;
    private bool _finished;
    private long _nextId;

    private RpcClient(ClientWebSocket ws) => _ws = ws;

    public static async Task<RpcClient> ConnectAsync(Uri uri, Action<ClientWebSocketOptions>? configure = null)
    {
        var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol(Subprotocol);
        configure?.Invoke(ws.Options);
        using var cts = new CancellationTokenSource(DefaultTimeout);
        await ws.ConnectAsync(uri, cts.Token);
        var client = new RpcClient(ws);
        client._receiveLoop = Task.Run(client.ReceiveLoopAsync);
        return client;
    }

    public ClientWebSocket Socket => _ws;

    /// <summary>Every message received so far, in arrival order.</summary>
    public IReadOnlyList<JsonObject> Received => _received.ToArray();

    /// <summary>Completes when the connection ends: the server's close status, or null when it ended without a close frame.</summary>
    public Task<WebSocketCloseStatus?> Ended => _ended.Task;

    /// <summary>The routing key of an id: its JSON text (<c>"r1"</c> with quotes, <c>7</c>, or <c>null</c>).</summary>
    public static string Key(JsonNode? id) => id is null ? "null" : id.ToJsonString();

    public static string Key(object id) => JsonSerializer.Serialize(id);

    /// <summary>A fresh string id.</summary>
    public string NewId() => "r" + Interlocked.Increment(ref _nextId);

    // ---- sending ---------------------------------------------------------------------------------

    public async Task SendTextAsync(string text, TimeSpan? timeout = null)
    {
        await SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, timeout);
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes, WebSocketMessageType type, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        await _sendLock.WaitAsync(cts.Token);
        try
        {
            await _ws.SendAsync(bytes, type, endOfMessage: true, cts.Token);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public Task SendJsonAsync(JsonNode message) => SendTextAsync(message.ToJsonString());

    /// <summary>Sends a request (a fresh string id unless <paramref name="id"/> is given: a string or an integer); returns the id's key.</summary>
    public async Task<string> SendRequestAsync(string path, object? input = null, object? id = null)
    {
        id ??= NewId();
        var message = new JsonObject
        {
            ["id"] = JsonSerializer.SerializeToNode(id),
            ["path"] = path,
        };
        if (input is not null) message["input"] = input as JsonNode ?? JsonSerializer.SerializeToNode(input);
        await SendJsonAsync(message);
        return Key(id);
    }

    /// <summary>Sends a notification (no id).</summary>
    public Task SendNotificationAsync(string path, object? input = null)
    {
        var message = new JsonObject { ["path"] = path };
        if (input is not null) message["input"] = input as JsonNode ?? JsonSerializer.SerializeToNode(input);
        return SendJsonAsync(message);
    }

    /// <summary>Sends <c>{"id":…,"cancel":true}</c> for the id with that key.</summary>
    public Task SendCancelAsync(string key) =>
        SendJsonAsync(new JsonObject { ["id"] = JsonNode.Parse(key), ["cancel"] = true });

    // ---- receiving -------------------------------------------------------------------------------

    private Channel<JsonObject> ChannelFor(string key)
    {
        lock (_routeLock)
        {
            if (!_byId.TryGetValue(key, out var channel))
            {
                channel = Channel.CreateUnbounded<JsonObject>();
                if (_finished) channel.Writer.TryComplete();
                _byId.Add(key, channel);
            }
            return channel;
        }
    }

    /// <summary>The next message for the id with that key; throws TimeoutException or IOException (connection ended).</summary>
    public Task<JsonObject> NextAsync(string key, TimeSpan? timeout = null) => ReadAsync(ChannelFor(key), $"a message for id {key}", timeout);

    /// <summary>The next message received, whatever its id.</summary>
    public Task<JsonObject> NextAnyAsync(TimeSpan? timeout = null) => ReadAsync(_all, "any message", timeout);

    private static async Task<JsonObject> ReadAsync(Channel<JsonObject> channel, string what, TimeSpan? timeout)
    {
        var limit = timeout ?? DefaultTimeout;
        using var cts = new CancellationTokenSource(limit);
        try
        {
            return await channel.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no {what} within {limit.TotalMilliseconds} ms");
        }
        catch (ChannelClosedException)
        {
            throw new IOException($"the connection ended while waiting for {what}");
        }
    }

    /// <summary>Messages already received for that id (without consuming them from its channel).</summary>
    public List<JsonObject> ReceivedFor(string key) =>
        Received.Where(m => m.TryGetPropertyValue("id", out var id) && Key(id) == key).ToList();

    public static bool IsTerminal(JsonObject message) =>
        message.ContainsKey("result") || message.ContainsKey("error") ||
        (message.TryGetPropertyValue("done", out var done) && done is JsonValue v && v.GetValueKind() == JsonValueKind.True);

    /// <summary>Every message for the id up to and including the terminal one.</summary>
    public async Task<List<JsonObject>> ReadUntilTerminalAsync(string key, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        var list = new List<JsonObject>();
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"no terminal message for id {key}; got {list.Count} before");
            var message = await NextAsync(key, left);
            list.Add(message);
            if (IsTerminal(message)) return list;
        }
    }

    /// <summary>Sends a request and returns its terminal message (result or error), skipping progress.</summary>
    public async Task<JsonObject> CallAsync(string path, object? input = null, object? id = null, TimeSpan? timeout = null)
    {
        string key = await SendRequestAsync(path, input, id);
        var messages = await ReadUntilTerminalAsync(key, timeout);
        return messages[^1];
    }

    /// <summary>Calls and returns the result, failing the test with the error if there is one.</summary>
    public async Task<JsonNode?> ResultAsync(string path, object? input = null, TimeSpan? timeout = null)
    {
        var reply = await CallAsync(path, input, timeout: timeout);
        Assert.True(reply.ContainsKey("result"), $"expected a result from {path}, got {reply.ToJsonString()}");
        return reply["result"];
    }

    /// <summary>Calls and returns the error object, failing the test if there is none.</summary>
    public async Task<JsonObject> ErrorAsync(string path, object? input = null, TimeSpan? timeout = null)
    {
        var reply = await CallAsync(path, input, timeout: timeout);
        Assert.True(reply["error"] is JsonObject, $"expected an error from {path}, got {reply.ToJsonString()}");
        return (JsonObject)reply["error"]!;
    }

    /// <summary>A $ping round trip: proves the connection is open and that everything sent before it was handled.</summary>
    public async Task PingAsync(TimeSpan? timeout = null)
    {
        var reply = await CallAsync("$ping", timeout: timeout);
        Assert.Equal("pong", reply["result"]?.GetValue<string>());
    }

    // ---- server push -------------------------------------------------------------------------------

    /// <summary>The next event (<c>{"event":…,"topic":…,"data":…}</c>) received; throws TimeoutException or IOException.</summary>
    public Task<JsonObject> NextEventAsync(TimeSpan? timeout = null) => ReadAsync(_events, "event", timeout);

    /// <summary>The next call from the server (<c>{"id":n,"path":…,"input":…}</c>); its cancel, if any, comes on the id's channel.</summary>
    public Task<JsonObject> NextServerCallAsync(TimeSpan? timeout = null) => ReadAsync(_serverCalls, "call from the server", timeout);

    /// <summary>Events received and not yet taken with <see cref="NextEventAsync"/>.</summary>
    public int PendingEvents => _events.Reader.Count;


    /// <summary>Answers a call from the server with <c>{"id":…,"result":…}</c>.</summary>
    public Task AnswerAsync(JsonNode? id, JsonNode? result) =>
        SendJsonAsync(new JsonObject { ["id"] = id?.DeepClone(), ["result"] = result?.DeepClone() });

    /// <summary>Answers a call from the server with <c>{"id":…,"error":…}</c>.</summary>
    public Task AnswerErrorAsync(JsonNode? id, JsonObject error) =>
        SendJsonAsync(new JsonObject { ["id"] = id?.DeepClone(), ["error"] = error.DeepClone() });

    /// <summary>
    /// Asserts that nothing was pushed to this client: every event and server call received so far was taken, and a
    /// <c>$ping</c> sent now is answered with the pong as the very next message. A connection's frames keep their
    /// order, so whatever the server queued for it before this call arrives before the pong.
    /// </summary>
    public async Task AssertNothingPushedAsync(string? because = null)
    {
        int mark = _received.Count;
        string key = await SendRequestAsync("$ping");
        var pong = await NextAsync(key);
        Assert.Equal("pong", pong["result"]?.GetValue<string>());
        var before = Received.Skip(mark).TakeWhile(m => !ReferenceEquals(m, pong)).ToList();
        string suffix = because is null ? "" : " (" + because + ")";
        Assert.True(before.Count == 0, $"expected the pong next{suffix}, got first: {string.Join(", ", before.Select(m => m.ToJsonString()))}");
        Assert.True(_events.Reader.Count == 0, $"{_events.Reader.Count} unexpected event(s){suffix}" + (_events.Reader.TryPeek(out var e) ? ": " + e.ToJsonString() : ""));
        Assert.True(_serverCalls.Reader.Count == 0, $"{_serverCalls.Reader.Count} unexpected call(s) from the server{suffix}" + (_serverCalls.Reader.TryPeek(out var c) ? ": " + c.ToJsonString() : ""));
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        WebSocketCloseStatus? status = null;
        try
        {
            while (true)
            {
                ValueWebSocketReceiveResult r = await _ws.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    status = _ws.CloseStatus;
                    try
                    {
                        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                        await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
                    }
                    catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException) { }
                    break;
                }
                message.Write(buffer, 0, r.Count);
                if (!r.EndOfMessage) continue;
                var bytes = message.ToArray();
                message.SetLength(0);
                Route(r.MessageType, bytes);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // Aborted or dropped: no close frame.
        }
        finally
        {
            lock (_routeLock)
            {
                _finished = true;
                foreach (var channel in _byId.Values) channel.Writer.TryComplete();
            }
            _all.Writer.TryComplete();
            _events.Writer.TryComplete();
            _serverCalls.Writer.TryComplete();
            _ended.TrySetResult(status);
        }
    }

    private void Route(WebSocketMessageType type, byte[] bytes)
    {
        JsonObject node;
        if (type != WebSocketMessageType.Text)
        {
            node = new JsonObject { ["$binary"] = Convert.ToBase64String(bytes) };
        }
        else
        {
            try
            {
                node = JsonNode.Parse(bytes) as JsonObject ?? new JsonObject { ["$notAnObject"] = Encoding.UTF8.GetString(bytes) };
            }
            catch (JsonException)
            {
                node = new JsonObject { ["$unparsed"] = Encoding.UTF8.GetString(bytes) };
            }
        }
        _received.Enqueue(node);
        _all.Writer.TryWrite(node);
        if (node.ContainsKey("event")) _events.Writer.TryWrite(node);
        else if (node.ContainsKey("path")) _serverCalls.Writer.TryWrite(node);
        else if (node.TryGetPropertyValue("id", out var id)) ChannelFor(Key(id)).Writer.TryWrite(node);
    }

    /// <summary>Waits (bounded) for the connection to end; returns the close status (null: ended without a close frame).</summary>
    public async Task<WebSocketCloseStatus?> WaitEndedAsync(TimeSpan? timeout = null) =>
        await _ended.Task.WaitAsync(timeout ?? DefaultTimeout);

    /// <summary>Drops the TCP connection without a close handshake.</summary>
    public void Abort() => _ws.Abort();

    public async ValueTask DisposeAsync()
    {
        if (_ws.State == WebSocketState.Open)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
                await _ended.Task.WaitAsync(TimeSpan.FromSeconds(2));
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or TimeoutException or ObjectDisposedException) { }
        }
        _ws.Abort();
        try { await _receiveLoop.WaitAsync(TimeSpan.FromSeconds(2)); } catch (TimeoutException) { }
        _ws.Dispose();
        _sendLock.Dispose();
    }
}
