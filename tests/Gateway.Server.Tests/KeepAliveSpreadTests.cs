using System.Buffers;
using System.Collections.Concurrent;
using Gateway.Protocol.WebSockets;
using Gateway.Server.WebSockets;
using Gateway.Tests.Shared;

namespace Gateway.Server.Tests;

/// <summary>
/// Connections opened together are not pinged together: each session's first keep-alive ping is due after a random
/// half to whole Timeouts:KeepAliveInterval, so a reconnect storm's pongs do not all land in one heartbeat tick.
/// </summary>
public sealed class KeepAliveSpreadTests
{
    [Fact(Timeout = 60_000)]
    public async Task First_pings_of_connections_opened_together_fall_across_the_second_half_of_the_interval()
    {
        var app = new CapturingApplication();
        var interval = TimeSpan.FromSeconds(30);
        await using var gw = await TestGateway.StartAsync(o =>
        {
            o.Timeouts.KeepAliveInterval = interval;
            o.Timeouts.ClientTimeout = TimeSpan.FromSeconds(60);
        }, routes: new Dictionary<string, IWebSocketApplication> { ["/spread"] = app });
        const int N = 100;
        long start = Environment.TickCount64;
        var clients = new List<RawClient>();
        try
        {
            for (int i = 0; i < N; i++) clients.Add(await RawClient.OpenAsync(gw.EndPoint, "/spread"));
            Assert.True(await Waits.WaitUntilAsync(() => app.Sessions.Count == N), $"{app.Sessions.Count} of {N} sessions");
            long end = Environment.TickCount64;
            long half = (long)interval.TotalMilliseconds / 2;
            // Due at LastPingTicks + interval: between half an interval and a whole one after the session started.
            var last = app.Sessions.Select(s => s.LastPingTicks).ToList();
            Assert.All(last, t => Assert.InRange(t, start - half, end));
            long spread = last.Max() - last.Min();
            Assert.True(spread >= half / 2, $"first pings spread over {spread} ms of a possible {half} ms");
            Assert.True(last.Distinct().Count() >= N / 2, $"only {last.Distinct().Count()} distinct due times for {N} sessions");
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
    }

    private sealed class CapturingApplication : IWebSocketApplication
    {
        public ConcurrentBag<WebSocketSession> Sessions { get; } = [];
        public IReadOnlyList<string> Subprotocols => [];
        public ValueTask OnConnectedAsync(WebSocketSession session)
        {
            Sessions.Add(session);
            return default;
        }
        public ValueTask OnMessageAsync(WebSocketSession session, Opcode opcode, ReadOnlySequence<byte> payload) => default;
        public ValueTask OnDisconnectedAsync(WebSocketSession session) => default;
    }
}
