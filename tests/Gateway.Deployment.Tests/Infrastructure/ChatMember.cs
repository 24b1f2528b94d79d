using System.Diagnostics;
using Gateway.Client;

namespace Gateway.Deployment.Tests.Infrastructure;

/// <summary>One connection of a <see cref="ChatMember"/>: where it landed and when it was lost or ready.</summary>
public sealed class MemberSession(string nodeId, string connectionId, TimeSpan readyAt)
{
    public string NodeId { get; } = nodeId;
    public string ConnectionId { get; } = connectionId;
    /// <summary>When the client was connected with its room subscription in place (the first connect, or the end of a reconnect).</summary>
    public TimeSpan ReadyAt { get; } = readyAt;
    /// <summary>When the client noticed the connection was lost.</summary>
    public TimeSpan? LostAt { get; set; }
}

/// <summary>
/// A room member using the .NET client (Gateway.Client) through the balancer: it subscribes to <c>room:{room}</c> with
/// <see cref="GatewayClient.SubscribeAsync{T}"/>, and the client's own reconnect brings it back (to whichever node the
/// balancer picks) with that subscription restored. Each connection is recorded (node, connection id, when it was lost
/// and when the next one was ready), and every chat.message text in arrival order.
/// </summary>
public sealed class ChatMember : IAsyncDisposable
{
    private sealed record ChatMessage(string Room, string From, string Text);
    private sealed record WhoAmI(string ConnectionId, string? UserId, string NodeId);

    private readonly Stopwatch _clock;
    private readonly List<MemberSession> _sessions = [];
    private readonly List<string> _texts = [];
    private readonly object _gate = new();
    private TaskCompletionSource _reconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ChatMember(GatewayClient client, Stopwatch clock)
    {
        Client = client;
        _clock = clock;
    }

    public GatewayClient Client { get; }
    public IReadOnlyList<MemberSession> Sessions { get { lock (_gate) return [.. _sessions]; } }
    public IReadOnlyList<string> Texts { get { lock (_gate) return [.. _texts]; } }

    public static async Task<ChatMember> JoinAsync(Uri balancer, Stopwatch clock, string room)
    {
        var client = new GatewayClient(balancer, o =>
        {
            // Short back-off, bounded attempts: the test's clock is short and a client that cannot come back must fail it.
            o.Reconnect.InitialDelay = TimeSpan.FromMilliseconds(50);
            o.Reconnect.MaxDelay = TimeSpan.FromSeconds(1);
            o.Reconnect.MaxAttempts = 60;
            o.DefaultCallTimeout = TimeSpan.FromSeconds(10);
        });
        var member = new ChatMember(client, clock);
        client.StateChanged += member.OnStateChanged;
        await client.ConnectAsync();
        await client.SubscribeAsync<ChatMessage>("room:" + room, e =>
        {
            lock (member._gate) member._texts.Add(e.Data!.Text);
        });
        var who = await client.CallAsync<WhoAmI>("chat/whoami");
        lock (member._gate) member._sessions.Add(new MemberSession(who.NodeId, who.ConnectionId, clock.Elapsed));
        return member;
    }

    private void OnStateChanged(object? sender, GatewayClientStateChangedEventArgs e)
    {
        if (e.Previous == GatewayClientState.Connected && e.Current == GatewayClientState.Reconnecting)
        {
            lock (_gate) if (_sessions.Count > 0) _sessions[^1].LostAt = _clock.Elapsed;
        }
        else if (e.Previous == GatewayClientState.Reconnecting && e.Current == GatewayClientState.Connected)
        {
            // Connected again means the subscriptions are restored (GatewayClient raises it after its $subscribe calls).
            var readyAt = _clock.Elapsed;
            lock (_gate) _reconnected.TrySetResult();
            _ = RecordAsync(readyAt);
        }
    }

    private async Task RecordAsync(TimeSpan readyAt)
    {
        // Runs off the client's reconnect loop: a call must not wait on the thread that raised the event.
        await Task.Yield();
        var who = await Client.CallAsync<WhoAmI>("chat/whoami");
        lock (_gate) _sessions.Add(new MemberSession(who.NodeId, who.ConnectionId, readyAt));
    }

    /// <summary>Waits (bounded) until the client has reconnected and its new connection is recorded.</summary>
    public async Task WaitReconnectedAsync(TimeSpan timeout)
    {
        Task reconnected;
        lock (_gate) reconnected = _reconnected.Task;
        await reconnected.WaitAsync(timeout);
        Assert.True(await Waits.WaitUntilAsync(() => Sessions.Count >= 2, timeout), "the new connection's whoami");
    }

    public async ValueTask DisposeAsync()
    {
        Client.StateChanged -= OnStateChanged;
        await Client.DisposeAsync();
    }
}
