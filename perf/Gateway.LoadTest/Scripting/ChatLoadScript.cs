using System.CommandLine;
using System.Text.Json;
using Gateway.Client;
using Gateway.LoadTest.Cli;
using Gateway.LoadTest.Core;

namespace Gateway.LoadTest.Scripting;

/// <summary>
/// The example load script, written the way a plugin team would test their own service: the chat sample. Every virtual
/// user has its own connection, joins a room (one of <c>rooms</c>) and subscribes to its messages; a step sends a
/// message and waits until its own message comes back through the topic, so the measured latency is send → fan-out →
/// receive, not just the send's answer.
/// </summary>
public static class ChatLoadScript
{
    private sealed record Message(string Room, string? From, string Text);

    private sealed class UserState
    {
        public required string Room;
        public readonly Dictionary<string, TaskCompletionSource> Waiting = [];
        public long Sequence;
    }

    public static ScriptScenario Create(RunSettings settings, int users, int rooms, TimeSpan duration, TimeSpan warmup) =>
        LoadScript.Scenario("chat")
            .WithConnections(users) // one connection per user, as real chat clients have
            .WithParameter("rooms", rooms.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithLoad(new KeepConstant(users, warmup) { Record = false }, new KeepConstant(users, duration))
            .WithUserInit(async ctx =>
            {
                var state = new UserState { Room = "load-" + (ctx.User % rooms) };
                ctx.State = state;
                await ctx.Client.CallAsync<JsonElement>("chat/join", new { room = state.Room });
                await ctx.Client.SubscribeAsync<Message>("room:" + state.Room, e =>
                {
                    TaskCompletionSource? mine;
                    lock (state.Waiting)
                    {
                        if (!state.Waiting.Remove(e.Data!.Text, out mine)) return; // someone else's message
                    }
                    mine.TrySetResult();
                });
            })
            .WithStep(async ctx =>
            {
                var state = (UserState)ctx.State!;
                string text = $"u{ctx.User}-{++state.Sequence}";
                var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (state.Waiting) state.Waiting[text] = received;
                await ctx.Client.CallAsync<JsonElement>("chat/send", new { room = state.Room, text });
                try
                {
                    await received.Task.WaitAsync(settings.RequestTimeout, ctx.Cancellation);
                }
                catch (TimeoutException)
                {
                    lock (state.Waiting) state.Waiting.Remove(text);
                    throw new RpcException(RpcErrorCodes.DeadlineExceeded, "own message not received");
                }
            })
            .Build(settings);
}

/// <summary><c>Gateway.LoadTest chat --users 20 --rooms 4</c>: runs <see cref="ChatLoadScript"/>.</summary>
public sealed class ChatScriptCommand : IScenarioDefinition
{
    public string Name => "chat";

    public Command CreateCommand(CommonOptions common)
    {
        var command = new Command(Name, "Example load script (Scripting/ChatLoadScript.cs): users join rooms of the chat sample, send, and wait for their own message through the topic");
        var users = Options.Int("--users", 20, "Virtual users, one connection each", 1);
        var rooms = Options.Int("--rooms", 4, "Rooms the users are spread over", 1);
        var duration = Options.Time("--duration", TimeSpan.FromSeconds(10), "Measured time");
        var warmup = Options.Time("--warmup", TimeSpan.FromSeconds(2), "Warm-up before measuring, not recorded");
        foreach (var o in new Option[] { users, rooms, duration.Option, warmup.Option }) command.Add(o);
        command.SetAction((parse, ct) => App.RunAsync(parse, common, settings =>
            ChatLoadScript.Create(settings, parse.GetValue(users), parse.GetValue(rooms), duration.Get(parse), warmup.Get(parse))));
        return command;
    }
}
