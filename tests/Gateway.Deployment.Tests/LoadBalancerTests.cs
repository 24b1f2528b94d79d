using System.Globalization;
using System.Net.WebSockets;
using Gateway.Client;
using Gateway.Deployment.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.Deployment.Tests;

/// <summary>
/// docker/haproxy.cfg as deployed: Debian's haproxy running that very file in front of two gateway processes on one
/// redis-server (BalancedCluster). Clients only know the balancer's address.
/// </summary>
public sealed class LoadBalancerTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Clients_through_the_balancer_land_on_both_nodes_and_chat_across_them()
    {
        await using var cluster = await BalancedCluster.StartAsync(output);
        var clients = new List<RpcClient>();
        try
        {
            for (int i = 0; i < 6; i++) clients.Add(await RpcClient.ConnectAsync(cluster.Balancer.WebSocketUri()));
            var nodes = new List<string>();
            foreach (var c in clients)
            {
                var who = await c.ResultAsync("chat/whoami");
                string node = who.Str("nodeId")!;
                // The connection id names the node holding it: the same node the client reports.
                Assert.StartsWith(node + ".", who.Str("connectionId"));
                nodes.Add(node);
                await c.ResultAsync("chat/join", new { room = "lobby" });
            }
            cluster.Log("clients landed on " + string.Join(", ", nodes));
            // leastconn spreads the sockets: both nodes hold three of them.
            Assert.Equal(3, nodes.Count(n => n == cluster.A.NodeId));
            Assert.Equal(3, nodes.Count(n => n == cluster.B.NodeId));

            // Each node's clients send; every client on both nodes receives every message, in order.
            var senderA = clients[nodes.IndexOf(cluster.A.NodeId)];
            var senderB = clients[nodes.IndexOf(cluster.B.NodeId)];
            await senderA.ResultAsync("chat/send", new { room = "lobby", text = "from-A" });
            await senderB.ResultAsync("chat/send", new { room = "lobby", text = "from-B" });
            foreach (var c in clients)
            {
                var first = await c.NextEventAsync();
                var second = await c.NextEventAsync();
                Assert.Equal("from-A", first["data"].Str("text"));
                Assert.Equal("from-B", second["data"].Str("text"));
            }
            var servers = await cluster.Balancer.ServersAsync();
            Assert.All(servers, s => Assert.Equal(3, s.CurrentSessions));
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
    }

    private sealed record Publish(int Seq, TimeSpan StartAt, TimeSpan DoneAt, bool Accepted);

    [Fact]
    public async Task A_node_drained_with_SIGTERM_leaves_the_rotation_and_its_clients_move_with_their_rooms()
    {
        await using var cluster = await BalancedCluster.StartAsync(output);
        var clock = cluster.Clock;
        var members = new List<ChatMember>();
        await using var publisher = await RpcClient.ConnectAsync(cluster.B.WebSocketUri); // B stays: it publishes throughout
        await using var slow = await RpcClient.ConnectAsync(cluster.A.WebSocketUri);      // keeps A draining for a while
        using var stopPublishing = new CancellationTokenSource();
        var published = new List<Publish>();
        Task publishing = Task.CompletedTask;
        try
        {
            // Members use the .NET client through the balancer; leastconn puts three on each node.
            for (int i = 0; i < 6; i++) members.Add(await ChatMember.JoinAsync(cluster.Balancer.WebSocketUri(), clock, "lobby"));
            var onA = members.Where(m => m.Sessions[0].NodeId == cluster.A.NodeId).ToList();
            var onB = members.Where(m => m.Sessions[0].NodeId == cluster.B.NodeId).ToList();
            Assert.Equal(3, onA.Count);
            Assert.Equal(3, onB.Count);

            // One publish every 25 ms from B to the room, numbered, with when it started and when it was accepted.
            publishing = Task.Run(async () =>
            {
                using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(25)); // the publisher's rate, not a wait
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
                for (int seq = 1; seq <= 4000 && DateTime.UtcNow < deadline && !stopPublishing.IsCancellationRequested; seq++)
                {
                    var start = clock.Elapsed;
                    var reply = await publisher.CallAsync("chat/send", new { room = "lobby", text = "seq-" + seq });
                    lock (published) published.Add(new Publish(seq, start, clock.Elapsed, reply.IsResult()));
                    try { await pace.WaitForNextTickAsync(stopPublishing.Token); } catch (OperationCanceledException) { break; }
                }
            });
            Assert.True(await Waits.WaitUntilAsync(() => members.All(m => m.Texts.Count >= 5), TimeSpan.FromSeconds(20)),
                "every member receives the room before the drain");

            // A call in flight on A when SIGTERM arrives: A drains (its /readyz says 503) until the call is over.
            string slowId = await slow.SendRequestAsync("echo/slow", new { delayMs = 4000 });
            var progress = await slow.NextAsync(slowId);
            Assert.True(progress.IsProgress(), progress.ToJsonString());
            var sigtermAt = clock.Elapsed;
            await cluster.A.Process.SendSigTermAsync();
            cluster.Log("SIGTERM to A");

            // haproxy takes A out on its /readyz answer (a layer-7 status failure), while A is still running.
            var servers = await cluster.Balancer.WaitServersAsync(s => s.Single(x => x.Name == "node1").Status.StartsWith("DOWN", StringComparison.Ordinal),
                "node1 (A) DOWN", TimeSpan.FromSeconds(10));
            cluster.Log("haproxy: " + Haproxy.Describe(servers));
            Assert.False(cluster.A.Process.HasExited, "A is still draining when the balancer takes it out");
            Assert.StartsWith("L7STS", servers.Single(x => x.Name == "node1").CheckStatus); // the 503 of /readyz, not a refused connection
            Assert.Equal("UP", servers.Single(x => x.Name == "node2").Status);
            // A new client now lands on B, though A still accepts TCP connections.
            await using (var late = await RpcClient.ConnectAsync(cluster.Balancer.WebSocketUri()))
                Assert.Equal(cluster.B.NodeId, (await late.ResultAsync("chat/whoami")).Str("nodeId"));

            // The running call finishes; then A closes its connections with 1001 (the direct client sees it) and the
            // members come back through the balancer, on B, with their room subscription restored by the client.
            var slowResult = (await slow.ReadUntilTerminalAsync(slowId, TimeSpan.FromSeconds(20)))[^1];
            Assert.True(slowResult.IsResult(), slowResult.ToJsonString());
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await slow.WaitEndedAsync(TimeSpan.FromSeconds(20)));
            foreach (var m in onA) await m.WaitReconnectedAsync(TimeSpan.FromSeconds(30));
            foreach (var m in onA)
            {
                var (old, now) = (m.Sessions[0], m.Sessions[1]);
                Assert.Equal(cluster.B.NodeId, now.NodeId);
                Assert.NotNull(old.LostAt);
                cluster.Log($"{old.ConnectionId} -> {now.ConnectionId}: lost at {old.LostAt!.Value.TotalMilliseconds:0} ms, " +
                            $"in the room again at {now.ReadyAt.TotalMilliseconds:0} ms ({(now.ReadyAt - old.LostAt.Value).TotalMilliseconds:0} ms later)");
            }
            Assert.All(onB, m => Assert.Single(m.Sessions)); // B's members never moved
            Assert.True(await cluster.A.Process.WaitForExitAsync(TimeSpan.FromSeconds(30)), "A exits after its drain");
            Assert.Equal(0, cluster.A.Process.ExitCode);

            // Publish on for a while after the last member is back, then stop and let everything arrive.
            var lastBack = onA.Max(m => m.Sessions[1].ReadyAt);
            Assert.True(await Waits.WaitUntilAsync(() => { lock (published) return published.Count(p => p.StartAt > lastBack) >= 20; }, TimeSpan.FromSeconds(20)),
                "20 publishes after the members are back");
            stopPublishing.Cancel();
            await publishing.WaitAsync(TimeSpan.FromSeconds(20));
            Publish[] all;
            lock (published) all = [.. published];
            Assert.All(all, p => Assert.True(p.Accepted, $"publish {p.Seq} was refused")); // B never stopped
            string last = "seq-" + all[^1].Seq;
            Assert.True(await Waits.WaitUntilAsync(() => members.All(m => m.Texts.Contains(last)), TimeSpan.FromSeconds(20)),
                "every member receives the last publish");

            foreach (var m in members)
            {
                var seqs = m.Texts.Select(t => int.Parse(t["seq-".Length..], CultureInfo.InvariantCulture)).ToList();
                // In order, never twice.
                Assert.True(seqs.Zip(seqs.Skip(1)).All(p => p.First < p.Second), "in order, no duplicates: " + string.Join(",", seqs));
                var missing = all.Where(p => !seqs.Contains(p.Seq)).ToList();
                if (!onA.Contains(m))
                {
                    Assert.Empty(missing); // B's own members miss nothing
                    continue;
                }
                // A moved member misses only what was published while it had no subscription: after the drain began
                // and before its subscription on B was in place (docs/scaling.md, "When a node is drained").
                var back = m.Sessions[1].ReadyAt;
                cluster.Log($"{m.Sessions[0].ConnectionId}: missed {missing.Count} of {all.Length} publishes [{string.Join(",", missing.Select(p => p.Seq))}]");
                Assert.All(missing, p => Assert.True(p.StartAt > sigtermAt && p.StartAt < back,
                    $"publish {p.Seq} (started at {p.StartAt.TotalMilliseconds:0} ms) was lost outside the window from SIGTERM ({sigtermAt.TotalMilliseconds:0} ms) to the resubscribe ({back.TotalMilliseconds:0} ms)"));
            }
            Assert.All(members, m => Assert.Equal(GatewayClientState.Connected, m.Client.State));
        }
        finally
        {
            stopPublishing.Cancel();
            try { await publishing.WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { }
            foreach (var m in members) await m.DisposeAsync();
        }
    }
}
