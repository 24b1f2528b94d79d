using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json.Nodes;

namespace Gateway.Deployment.Tests.Infrastructure;

/// <summary>One connection of a <see cref="ReconnectingClient"/>: where it landed and when.</summary>
public sealed record ClientSession(RpcClient Client, string NodeId, string ConnectionId, TimeSpan ConnectedAt, TimeSpan ResubscribedAt)
{
    public TimeSpan? EndedAt { get; set; }
    public WebSocketCloseStatus? CloseStatus { get; set; }
}

/// <summary>
/// STAND-IN for Gateway.Client's reconnect (the .NET client SDK is being built on another branch): a JSON client that,
/// when its connection ends, connects again to the same address (the balancer) with a capped back-off, then joins its
/// rooms again, as the "reconnect with subscriptions restored" asks of the real client. Every connection it
/// made is kept, so a test can see which node each landed on and every chat.message it received, in order.
/// </summary>
public sealed class ReconnectingClient : IAsyncDisposable
{
    private static readonly TimeSpan ReconnectLimit = TimeSpan.FromSeconds(30);
    private readonly Uri _uri;
    private readonly Stopwatch _clock;
    private readonly string[] _rooms;
    private readonly List<ClientSession> _sessions = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];
    private Task _supervisor = Task.CompletedTask;

    private ReconnectingClient(Uri uri, Stopwatch clock, string[] rooms)
    {
        _uri = uri;
        _clock = clock;
        _rooms = rooms;
    }

    /// <summary>Connects, joins <paramref name="rooms"/>, and from then on reconnects whenever the connection ends.</summary>
    public static async Task<ReconnectingClient> ConnectAsync(Uri uri, Stopwatch clock, params string[] rooms)
    {
        var client = new ReconnectingClient(uri, clock, rooms);
        client.Add(await client.OpenAsync(CancellationToken.None));
        client._supervisor = Task.Run(client.SuperviseAsync);
        return client;
    }

    public IReadOnlyList<ClientSession> Sessions { get { lock (_sessions) return [.. _sessions]; } }
    public ClientSession Current => Sessions[^1];
    /// <summary>Why reconnecting gave up, when it did.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Every chat.message of every connection, in arrival order (a connection ends before the next starts).</summary>
    public IReadOnlyList<JsonObject> ChatMessages() =>
        Sessions.SelectMany(s => s.Client.Received).Where(m => m.Str("event") == "chat.message").ToList();

    /// <summary>Completes once this client has had <paramref name="count"/> connections (its first included), each resubscribed.</summary>
    public Task WaitForSessionsAsync(int count, TimeSpan timeout)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_sessions)
        {
            if (_sessions.Count >= count) return Task.CompletedTask;
            _waiters.Add((count, done));
        }
        return done.Task.WaitAsync(timeout);
    }

    private void Add(ClientSession session)
    {
        List<TaskCompletionSource> ready = [];
        lock (_sessions)
        {
            _sessions.Add(session);
            foreach (var w in _waiters.Where(w => _sessions.Count >= w.Count).ToList())
            {
                ready.Add(w.Done);
                _waiters.Remove(w);
            }
        }
        foreach (var r in ready) r.TrySetResult();
    }

    private async Task<ClientSession> OpenAsync(CancellationToken ct)
    {
        var client = await RpcClient.ConnectAsync(_uri);
        try
        {
            var connectedAt = _clock.Elapsed;
            var who = await client.ResultAsync("chat/whoami");
            foreach (var room in _rooms) await client.ResultAsync("chat/join", new { room });
            return new ClientSession(client, who.Str("nodeId")!, who.Str("connectionId")!, connectedAt, _clock.Elapsed);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    private async Task SuperviseAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var session = Current;
                var status = await session.Client.Ended.WaitAsync(_stop.Token);
                session.EndedAt = _clock.Elapsed;
                session.CloseStatus = status;
                // A capped back-off: the first retry at once (the balancer sends it to a live node), then 50 ms
                // doubling up to 1 s, for at most ReconnectLimit.
                var deadline = DateTime.UtcNow + ReconnectLimit;
                var delay = TimeSpan.Zero;
                for (int attempt = 1; ; attempt++)
                {
                    if (delay > TimeSpan.Zero) await Task.Delay(delay, _stop.Token); // the back-off between attempts
                    try
                    {
                        Add(await OpenAsync(_stop.Token));
                        break;
                    }
                    catch (Exception ex) when (ex is WebSocketException or IOException or TimeoutException or Xunit.Sdk.XunitException && DateTime.UtcNow < deadline && attempt < 200)
                    {
                        delay = delay == TimeSpan.Zero ? TimeSpan.FromMilliseconds(50) : TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.TicksPerSecond));
                    }
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
        catch (Exception ex)
        {
            Failure = ex;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _supervisor.WaitAsync(TimeSpan.FromSeconds(5)); } catch (TimeoutException) { }
        foreach (var s in Sessions) await s.Client.DisposeAsync();
        _stop.Dispose();
    }
}
