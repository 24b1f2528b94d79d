// Baseline (b): the same procedures as a SignalR hub (JSON hub protocol), default settings except a receive
// limit large enough for the 1 MiB echo. Topics for the fan-out scenario are SignalR groups: Subscribe(topic) and
// Join(room) add the caller to a group, Send(room, text) sends "chat.message" to the group (serialized once per
// protocol by SignalR) and then answers, as the gateway sample's chat/send does.
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.SignalR;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSignalR(o => o.MaximumReceiveMessageSize = 2 * 1024 * 1024);
var app = builder.Build();
// GC counts in the gateway's Prometheus names (bench-compare reads every server's Gen0/Gen2 the same way); not on the hot path.
app.MapGet("/metrics", () => Results.Text(string.Concat(Enumerable.Range(0, GC.MaxGeneration + 1)
    .Select(g => $"dotnet_gc_collections_total{{generation=\"{g}\"}} {GC.CollectionCount(g)}\n")), "text/plain; version=0.0.4"));
app.MapHub<EchoHub>("/hub");
app.Run();

public sealed class EchoHub : Hub
{
    // Synchronous: SignalR answers a non-async hub method without a Task.
    public Msg Echo(Msg input) => input;

    public async Task<TopicResult> Subscribe(TopicInput input)
    {
        if (string.IsNullOrEmpty(input.Topic)) throw new HubException("topic is required");
        await Groups.AddToGroupAsync(Context.ConnectionId, input.Topic);
        return new TopicResult(input.Topic);
    }

    public async Task<RoomResult> Join(RoomInput input)
    {
        string room = CheckRoom(input.Room);
        await Groups.AddToGroupAsync(Context.ConnectionId, "room:" + room);
        return new RoomResult(room, "room:" + room);
    }

    public async Task<RoomResult> Send(SendInput input)
    {
        string room = CheckRoom(input.Room);
        if (string.IsNullOrEmpty(input.Text) || input.Text.Length > 4000) throw new HubException("text is 1 to 4000 characters");
        await Clients.Group("room:" + room).SendAsync("chat.message", new ChatMessage(room, Context.ConnectionId, input.Text, DateTimeOffset.UtcNow));
        return new RoomResult(room, "room:" + room);
    }

    private static string CheckRoom(string? room) =>
        room is { Length: > 0 and <= 64 } && room.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? room : throw new HubException("room is 1 to 64 letters, digits, '-', '_' or '.'");

    public async IAsyncEnumerable<Tick> Count(CountInput input, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (int i = 0; i < input.N; i++)
        {
            if (input.DelayMs > 0) await Task.Delay(input.DelayMs, cancellationToken);
            yield return new Tick(i);
        }
    }
}

public sealed class TopicInput
{
    public string? Topic { get; set; }
}

public sealed class RoomInput
{
    public string? Room { get; set; }
}

public sealed class SendInput
{
    public string? Room { get; set; }
    public string? Text { get; set; }
}

public sealed record TopicResult(string Topic);
public sealed record RoomResult(string Room, string Topic);
public sealed record ChatMessage(string Room, string From, string Text, DateTimeOffset SentAt);

public sealed class Msg
{
    public string? Text { get; set; }
    public long? Number { get; set; }
}

public sealed class CountInput
{
    public int N { get; set; }
    public int DelayMs { get; set; }
}

public sealed record Tick(int I);
