// Baseline (a): the gateway's protocol for echo/echo, echo/count and $ping, written the way a competent .NET
// developer would on Kestrel with System.Net.WebSockets: one receive loop per connection, whole messages in a
// pooled buffer, System.Text.Json for the envelope, every request run concurrently, one lock around SendAsync.
using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var app = builder.Build();
app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(15) });
// GC counts in the gateway's Prometheus names (bench-compare reads every server's Gen0/Gen2 the same way); not on the hot path.
app.MapGet("/metrics", () => Results.Text(string.Concat(Enumerable.Range(0, GC.MaxGeneration + 1)
    .Select(g => $"dotnet_gc_collections_total{{generation=\"{g}\"}} {GC.CollectionCount(g)}\n")), "text/plain; version=0.0.4"));
app.Map("/ws", async context =>
{
    if (!context.WebSockets.IsWebSocketRequest) { context.Response.StatusCode = 400; return; }
    string? sub = context.WebSockets.WebSocketRequestedProtocols.Contains("gateway.v1.json") ? "gateway.v1.json" : null;
    using var socket = await context.WebSockets.AcceptWebSocketAsync(sub);
    await new Connection(socket).RunAsync(context.RequestAborted);
});
app.Run();

sealed class Connection(WebSocket socket)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    public async Task RunAsync(CancellationToken aborted)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                int count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (count == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, count).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    result = await socket.ReceiveAsync(buffer.AsMemory(count), aborted);
                    count += result.Count;
                } while (!result.EndOfMessage);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                    break;
                }
                JsonNode? message;
                try { message = JsonNode.Parse(buffer.AsSpan(0, count)); }
                catch (JsonException) { continue; }
                _ = HandleAsync(message!.AsObject(), aborted);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException) { }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    private async Task HandleAsync(JsonObject message, CancellationToken aborted)
    {
        var id = message["id"]?.DeepClone();
        string? path = (string?)message["path"];
        var input = message["input"];
        try
        {
            switch (path)
            {
                case "$ping":
                    await SendAsync(new JsonObject { ["id"] = id, ["result"] = "pong" });
                    break;
                case "echo/echo":
                    var msg = input.Deserialize<Msg>(Json);
                    await SendAsync(new JsonObject { ["id"] = id, ["result"] = JsonSerializer.SerializeToNode(msg, Json) });
                    break;
                case "echo/count":
                    var count = input.Deserialize<CountInput>(Json)!;
                    for (int i = 0; i < count.N; i++)
                    {
                        if (count.DelayMs > 0) await Task.Delay(count.DelayMs, aborted);
                        await SendAsync(new JsonObject { ["id"] = id?.DeepClone(), ["data"] = new JsonObject { ["i"] = i } });
                    }
                    await SendAsync(new JsonObject { ["id"] = id?.DeepClone(), ["data"] = null, ["done"] = true });
                    break;
                default:
                    await SendAsync(new JsonObject
                    {
                        ["id"] = id,
                        ["error"] = new JsonObject { ["code"] = "NOT_FOUND", ["status"] = 404, ["message"] = $"no procedure named '{path}'", ["retryable"] = false },
                    });
                    break;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException) { }
    }

    private async Task SendAsync(JsonObject reply)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(reply, Json);
        await _sendLock.WaitAsync();
        try { await socket.SendAsync(bytes, WebSocketMessageType.Text, true, CancellationToken.None); }
        finally { _sendLock.Release(); }
    }
}

sealed class Msg
{
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Text { get; set; }
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public long? Number { get; set; }
}

sealed class CountInput
{
    public int N { get; set; }
    public int DelayMs { get; set; }
}
