using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using Gateway.Rpc.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Rpc.Tests.Authz;

/// <summary>
/// IConnectionHandler: on connect, and on every kind of disconnect. The plugin's own hook (authz plugin, observed over the
/// wire) proves plugins' registrations are used; a handler registered by the test in the same service collection observes
/// each disconnect kind directly, including the server's stop, after which nothing answers over the wire.
/// </summary>
public sealed class ConnectionHookTests
{
    private sealed class Recorder : IConnectionHandler
    {
        private readonly ConcurrentDictionary<string, TaskCompletionSource<(string? UserId, DisconnectReason Reason)>> _ended = new();
        public ConcurrentQueue<string> Connected { get; } = new();

        private TaskCompletionSource<(string?, DisconnectReason)> For(string id) =>
            _ended.GetOrAdd(id, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));

        public ValueTask OnConnectedAsync(ConnectionContext connection)
        {
            Connected.Enqueue($"{connection.ConnectionId} {connection.UserId ?? "-"} {connection.User.Identity?.IsAuthenticated}");
            return default;
        }

        public ValueTask OnDisconnectedAsync(ConnectionContext connection, DisconnectReason reason)
        {
            For(connection.ConnectionId).TrySetResult((connection.UserId, reason));
            return default;
        }

        public async Task<(string? UserId, DisconnectReason Reason)> EndedAsync(string connectionId) =>
            await For(connectionId).Task.WaitAsync(TimeSpan.FromSeconds(15));
    }

    private sealed class Thrower : IConnectionHandler
    {
        public ValueTask OnConnectedAsync(ConnectionContext connection) => throw new InvalidOperationException("connect hook fails on purpose");
        public ValueTask OnDisconnectedAsync(ConnectionContext connection, DisconnectReason reason) => throw new InvalidOperationException("disconnect hook fails on purpose");
    }

    private static async Task<(RpcGateway Gateway, Recorder Recorder)> StartAsync(Dictionary<string, string?>? settings = null, LogCapture? logs = null, bool thrower = false)
    {
        var recorder = new Recorder();
        var gateway = await AuthzKit.StartAsync(settings, before: s =>
        {
            if (logs is not null) s.AddSingleton<ILoggerProvider>(logs);
            if (thrower) s.AddSingleton<IConnectionHandler>(new Thrower());
            s.AddSingleton<IConnectionHandler>(recorder);
        });
        return (gateway, recorder);
    }

    private static async Task<string> IdOf(RpcClient client) => (await client.ResultAsync("test/connectionId"))!.GetValue<string>();

    [Fact]
    public async Task A_plugins_hook_sees_the_connect_before_the_first_call_and_the_client_close_with_its_code()
    {
        await using var gateway = await AuthzKit.StartAsync(new Dictionary<string, string?> { ["AuthzPlugin:Hooks"] = "on" });
        await using var observer = await gateway.ConnectAsync();
        var ada = await gateway.ConnectAsync(AuthzKit.As("ada"));
        string id = await IdOf(ada);
        // The hook ran before the connection's first message was read: its mark is in the items the call sees.
        Assert.True((await ada.ResultAsync("journal/marked"))!.GetValue<bool>());
        Assert.True((await observer.ResultAsync("journal/waitFor", new { line = $"connected {id} ada" }))!.GetValue<bool>());

        await ada.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        await ada.WaitEndedAsync();
        Assert.True((await observer.ResultAsync("journal/waitFor", new { line = $"disconnected {id} ada ClientClosed 1000", timeoutMs = 10000 }))!.GetValue<bool>());
        await ada.DisposeAsync();
    }

    [Fact]
    public async Task Client_close_with_a_code_and_an_abrupt_TCP_drop()
    {
        var (gateway, recorder) = await StartAsync();
        await using (gateway)
        {
            var closer = await gateway.ConnectAsync(AuthzKit.As("ada"));
            string closerId = await IdOf(closer);
            await closer.Socket.CloseOutputAsync((WebSocketCloseStatus)4000, "done", CancellationToken.None);
            var (user, reason) = await recorder.EndedAsync(closerId);
            Assert.Equal((DisconnectKind.ClientClosed, (int?)4000), (reason.Kind, reason.CloseCode));
            Assert.Equal("ada", user); // the user id the connection had, though push has forgotten it by now
            await closer.DisposeAsync();

            var dropped = await gateway.ConnectAsync();
            string droppedId = await IdOf(dropped);
            dropped.Abort();
            (_, reason) = await recorder.EndedAsync(droppedId);
            Assert.Equal((DisconnectKind.ConnectionLost, (int?)null), (reason.Kind, reason.CloseCode));
            await dropped.DisposeAsync();
            Assert.Contains(recorder.Connected, c => c == $"{closerId} ada True");
            Assert.Contains(recorder.Connected, c => c == $"{droppedId} - False");
        }
    }

    [Fact]
    public async Task Server_stop_is_a_shutdown()
    {
        var (gateway, recorder) = await StartAsync();
        await using (gateway)
        {
            await using var client = await gateway.ConnectAsync();
            string id = await IdOf(client);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await gateway.Server.StopAsync(cts.Token);
            var (_, reason) = await recorder.EndedAsync(id);
            Assert.Equal((DisconnectKind.ServerShutdown, (int?)1001), (reason.Kind, reason.CloseCode));
        }
    }

    [Fact]
    public async Task Heartbeat_timeout_is_a_timeout()
    {
        var (gateway, recorder) = await StartAsync(new() { ["Gateway:Timeouts:Idle"] = "00:00:01" });
        await using (gateway)
        {
            await using var client = await gateway.ConnectAsync();
            string id = await IdOf(client);
            var (_, reason) = await recorder.EndedAsync(id);
            Assert.Equal((DisconnectKind.Timeout, (int?)1001), (reason.Kind, reason.CloseCode));
            Assert.Equal("idle timeout", reason.Description);
        }
    }

    [Fact]
    public async Task Policy_close_and_protocol_error()
    {
        var (gateway, recorder) = await StartAsync(new() { ["Gateway:Limits:MaxBadMessages"] = "2", ["Gateway:Limits:MaxMessageBytes"] = "4096" });
        await using (gateway)
        {
            await using var bad = await gateway.ConnectAsync();
            string badId = await IdOf(bad);
            await bad.SendTextAsync("not json");
            await bad.SendTextAsync("not json either");
            var (_, reason) = await recorder.EndedAsync(badId);
            Assert.Equal((DisconnectKind.PolicyClose, (int?)1008), (reason.Kind, reason.CloseCode));

            await using var big = await gateway.ConnectAsync();
            string bigId = await IdOf(big);
            await big.SendAsync(Encoding.UTF8.GetBytes(new string('x', 10_000)), WebSocketMessageType.Text);
            (_, reason) = await recorder.EndedAsync(bigId);
            Assert.Equal((DisconnectKind.ProtocolError, (int?)1009), (reason.Kind, reason.CloseCode));
        }
    }

    [Fact]
    public async Task A_throwing_hook_is_logged_and_counted_and_hurts_neither_the_connection_nor_the_other_hooks()
    {
        var logs = new LogCapture();
        var (gateway, recorder) = await StartAsync(logs: logs, thrower: true);
        await using (gateway)
        {
            var client = await gateway.ConnectAsync(AuthzKit.As("ada"));
            string id = await IdOf(client);
            Assert.Equal("hello ada", (await client.ResultAsync("secure/hello"))!.GetValue<string>());
            Assert.Contains(recorder.Connected, c => c.StartsWith(id + " ", StringComparison.Ordinal));
            await client.DisposeAsync();
            var (_, reason) = await recorder.EndedAsync(id);
            Assert.Equal(DisconnectKind.ClientClosed, reason.Kind);
            Assert.True(await Waits.WaitUntilAsync(() => gateway.Server.Metrics.ConnectionHookErrors == 2));
            var lines = logs.Entries.Where(e => e.EventId == 642).ToList();
            Assert.Equal(2, lines.Count);
            Assert.All(lines, l => Assert.Matches(@"^\[\d+\] connection handler .*Thrower\.OnD?i?s?[Cc]onnectedAsync failed", l.Message));
        }
    }
}
