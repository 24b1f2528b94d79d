using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Threading.Channels;
using MessagePack;
using MessagePack.Resolvers;

namespace Gateway.Tests.Shared;

/// <summary>
/// A gateway.v1.msgpack client over <see cref="ClientWebSocket"/>, decoding with the MessagePack library's own dynamic
/// formatter (maps as dictionaries, ints as the smallest CLR integer, bin as byte[], timestamps as DateTime): an
/// implementation independent of the gateway's mapping. Messages are routed by id key (<c>"r1"</c> quoted for a string,
/// <c>7</c> for an integer), events and server calls to their own channels; tests await with a timeout, nothing sleeps.
/// </summary>
public sealed class MsgPackClient : IAsyncDisposable
{
    public const string Subprotocol = "gateway.v1.msgpack";
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);
    public static readonly MessagePackSerializerOptions Options = StandardResolver.Options;

    private readonly ClientWebSocket _ws;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly ConcurrentDictionary<string, Channel<Dictionary<object, object?>>> _byId = new();
    private readonly Channel<Dictionary<object, object?>> _all = Channel.CreateUnbounded<Dictionary<object, object?>>();
    private readonly Channel<Dictionary<object, object?>> _events = Channel.CreateUnbounded<Dictionary<object, object?>>();
    private readonly Channel<Dictionary<object, object?>> _serverCalls = Channel.CreateUnbounded<Dictionary<object, object?>>();
    private readonly TaskCompletionSource<WebSocketCloseStatus?> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextId;

    private MsgPackClient(ClientWebSocket ws) => _ws = ws;

    public static async Task<MsgPackClient> ConnectAsync(Uri uri, string subprotocol = Subprotocol)
    {
        var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol(subprotocol);
        using var cts = new CancellationTokenSource(DefaultTimeout);
        await ws.ConnectAsync(uri, cts.Token);
        var client = new MsgPackClient(ws);
        _ = Task.Run(client.ReceiveLoopAsync);
        return client;
    }

    public ClientWebSocket Socket => _ws;
    public Task<WebSocketCloseStatus?> Ended => _ended.Task;
    /// <summary>Binary messages' frame types seen (true: every message so far came in a binary frame).</summary>
    public bool OnlyBinaryFrames { get; private set; } = true;

    public string NewId() => "m" + Interlocked.Increment(ref _nextId);

    public static string Key(object? id) => id switch
    {
        null => "nil",
        string s => "\"" + s + "\"",
        _ => Convert.ToInt64(id, System.Globalization.CultureInfo.InvariantCulture).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public static byte[] Encode(object? value) => MessagePackSerializer.Serialize(value, Options);

    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes, WebSocketMessageType type = WebSocketMessageType.Binary)
    {
        using var cts = new CancellationTokenSource(DefaultTimeout);
        await _sendLock.WaitAsync(cts.Token);
        try { await _ws.SendAsync(bytes, type, true, cts.Token); }
        finally { _sendLock.Release(); }
    }

    public Task SendAsync(Dictionary<string, object?> message) => SendRawAsync(Encode(message));

    public async Task<string> SendRequestAsync(string path, object? input = null, object? id = null, bool withInput = true)
    {
        id ??= NewId();
        var message = new Dictionary<string, object?> { ["id"] = id, ["path"] = path };
        if (withInput && input is not null) message["input"] = input;
        await SendAsync(message);
        return Key(id);
    }

    public Task SendNotificationAsync(string path, object? input = null)
    {
        var message = new Dictionary<string, object?> { ["path"] = path };
        if (input is not null) message["input"] = input;
        return SendAsync(message);
    }

    public Task SendCancelAsync(object id) => SendAsync(new Dictionary<string, object?> { ["id"] = id, ["cancel"] = true });

    private Channel<Dictionary<object, object?>> ChannelFor(string key) =>
        _byId.GetOrAdd(key, static _ => Channel.CreateUnbounded<Dictionary<object, object?>>());

    public Task<Dictionary<object, object?>> NextAsync(string key, TimeSpan? timeout = null) => ReadAsync(ChannelFor(key), "a message for id " + key, timeout);
    public Task<Dictionary<object, object?>> NextAnyAsync(TimeSpan? timeout = null) => ReadAsync(_all, "any message", timeout);
    public Task<Dictionary<object, object?>> NextEventAsync(TimeSpan? timeout = null) => ReadAsync(_events, "an event", timeout);
    public Task<Dictionary<object, object?>> NextServerCallAsync(TimeSpan? timeout = null) => ReadAsync(_serverCalls, "a call from the server", timeout);

    private static async Task<Dictionary<object, object?>> ReadAsync(Channel<Dictionary<object, object?>> channel, string what, TimeSpan? timeout)
    {
        var limit = timeout ?? DefaultTimeout;
        using var cts = new CancellationTokenSource(limit);
        try { return await channel.Reader.ReadAsync(cts.Token); }
        catch (OperationCanceledException) { throw new TimeoutException($"no {what} within {limit.TotalMilliseconds} ms"); }
        catch (ChannelClosedException) { throw new IOException($"the connection ended while waiting for {what}"); }
    }

    public static bool IsTerminal(Dictionary<object, object?> m) => m.ContainsKey("result") || m.ContainsKey("error") || m.TryGetValue("done", out var d) && d is true;

    public async Task<List<Dictionary<object, object?>>> ReadUntilTerminalAsync(string key, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        var list = new List<Dictionary<object, object?>>();
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"no terminal message for id {key}; got {list.Count} before");
            var m = await NextAsync(key, left);
            list.Add(m);
            if (IsTerminal(m)) return list;
        }
    }

    public async Task<Dictionary<object, object?>> CallAsync(string path, object? input = null, object? id = null)
    {
        string key = await SendRequestAsync(path, input, id);
        return (await ReadUntilTerminalAsync(key))[^1];
    }

    public async Task<object?> ResultAsync(string path, object? input = null)
    {
        var reply = await CallAsync(path, input);
        Assert.True(reply.ContainsKey("result"), $"expected a result from {path}, got {Describe(reply)}");
        return reply["result"];
    }

    public async Task<Dictionary<object, object?>> ErrorAsync(string path, object? input = null)
    {
        var reply = await CallAsync(path, input);
        Assert.True(reply.TryGetValue("error", out var e) && e is Dictionary<object, object?>, $"expected an error from {path}, got {Describe(reply)}");
        return (Dictionary<object, object?>)reply["error"]!;
    }

    public static string Describe(object? value) => value switch
    {
        null => "nil",
        Dictionary<object, object?> d => "{" + string.Join(",", d.Select(kv => kv.Key + ":" + Describe(kv.Value))) + "}",
        object[] a => "[" + string.Join(",", a.Select(Describe)) + "]",
        byte[] b => "bin(" + Convert.ToHexString(b) + ")",
        string s => "\"" + s + "\"",
        _ => value.ToString() ?? "",
    };

    /// <summary>Waits for the end of the connection and returns the server's close status (null: no close frame).</summary>
    public async Task<WebSocketCloseStatus?> WaitEndedAsync(TimeSpan? timeout = null) => await _ended.Task.WaitAsync(timeout ?? DefaultTimeout);

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await _ws.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close) break;
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage) continue;
                if (result.MessageType != WebSocketMessageType.Binary) OnlyBinaryFrames = false;
                var bytes = message.ToArray();
                message.SetLength(0);
                var decoded = MessagePackSerializer.Deserialize<object>(bytes, Options) as Dictionary<object, object?>
                    ?? throw new InvalidDataException("a message is not a map: " + Convert.ToHexString(bytes));
                _all.Writer.TryWrite(decoded);
                if (decoded.ContainsKey("event")) _events.Writer.TryWrite(decoded);
                else if (decoded.ContainsKey("path")) _serverCalls.Writer.TryWrite(decoded);
                else if (decoded.TryGetValue("id", out var id)) ChannelFor(Key(id)).Writer.TryWrite(decoded);
            }
        }
        catch (Exception) when (_ws.State != WebSocketState.Open) { }
        catch (WebSocketException) { }
        finally
        {
            _ended.TrySetResult(_ws.CloseStatus);
            _all.Writer.TryComplete();
            _events.Writer.TryComplete();
            _serverCalls.Writer.TryComplete();
            foreach (var c in _byId.Values) c.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_ws.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
            }
        }
        catch (Exception) { }
        _ws.Dispose();
    }
}
