using System.Diagnostics;
using Gateway.Backplane.Redis.Tests.Infrastructure;
using Gateway.Server.Tests;
using Xunit.Abstractions;

namespace Gateway.Deployment.Tests.Infrastructure;

/// <summary>A gateway node of the cluster: the real host process and the port it bound.</summary>
internal sealed record Node(string Name, HostProcess Process, int Port, string NodeId)
{
    public string Address => $"127.0.0.1:{Port}";
    public Uri WebSocketUri => new($"ws://127.0.0.1:{Port}/ws");
}

/// <summary>
/// The compose stack without Docker: a redis-server, two Gateway.Host processes with the sample plugin on the Redis
/// backplane, and haproxy running docker/haproxy.cfg in front of them, checked every <see cref="CheckInterval"/>.
/// Started once both nodes are UP in haproxy; everything is stopped (killed if need be) on dispose, whatever the outcome.
/// </summary>
internal sealed class BalancedCluster : IAsyncDisposable
{
    public const string CheckInterval = "100ms";
    public const int Fall = 2, Rise = 1;

    private readonly string _root = Path.Combine(Path.GetTempPath(), "gateway-lb-test-" + Guid.NewGuid().ToString("N"));
    private readonly ITestOutputHelper _output;
    private readonly List<HostProcess> _processes = [];

    private BalancedCluster(ITestOutputHelper output) => _output = output;

    public RedisServer Redis { get; private set; } = null!;
    public Node A { get; private set; } = null!;
    public Node B { get; private set; } = null!;
    public Haproxy Balancer { get; private set; } = null!;
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    public void Log(string line) => _output.WriteLine($"{Clock.Elapsed.TotalMilliseconds,7:0} ms {line}");

    public static async Task<BalancedCluster> StartAsync(ITestOutputHelper output)
    {
        _ = Haproxy.Executable(); // the clear message first, before anything starts
        var cluster = new BalancedCluster(output);
        try
        {
            Directory.CreateDirectory(cluster._root);
            string plugins = HostProcess.SamplePluginsFolder(cluster._root);
            cluster.Redis = await RedisServer.CreateAsync();
            string prefix = "lb" + Guid.NewGuid().ToString("N")[..10];
            string[] args =
            [
                "--Gateway:Listen:0=127.0.0.1:0",
                $"--Gateway:Plugins:Path={plugins}",
                "--Gateway:Backplane:Type=Redis",
                $"--Gateway:Backplane:Redis:Configuration={cluster.Redis.Configuration}",
                $"--Gateway:Backplane:Redis:ChannelPrefix={prefix}",
                "--Samples:Ticker:Enabled=false",
            ];
            var a = HostProcess.Start(args);
            cluster._processes.Add(a);
            var b = HostProcess.Start(args);
            cluster._processes.Add(b);
            cluster.A = await cluster.NodeAsync("A", a);
            cluster.B = await cluster.NodeAsync("B", b);
            cluster.Balancer = await Haproxy.StartAsync(cluster.A.Address, cluster.B.Address, CheckInterval, Fall, Rise);
            cluster.Log($"haproxy on 127.0.0.1:{cluster.Balancer.Port} (stats {cluster.Balancer.StatsPort}), node1 = A, node2 = B");
            var up = await cluster.Balancer.WaitServersAsync(s => s.Count == 2 && s.All(x => x.Status == "UP"), "both nodes UP", TimeSpan.FromSeconds(20));
            cluster.Log("haproxy: " + Haproxy.Describe(up));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task<Node> NodeAsync(string name, HostProcess process)
    {
        int port = await process.BoundPortAsync(TimeSpan.FromSeconds(60));
        // The node id, from the node itself (not through the balancer).
        await using var client = await RpcClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"));
        var who = await client.ResultAsync("chat/whoami");
        var node = new Node(name, process, port, who.Str("nodeId")!);
        Log($"node {name} = {node.NodeId} on port {port} (pid {process.Id})");
        return node;
    }

    public async ValueTask DisposeAsync()
    {
        if (Balancer is not null)
        {
            _output.WriteLine("--- haproxy ---\n" + Balancer.Output);
            await Balancer.DisposeAsync();
        }
        foreach (var process in _processes)
        {
            _output.WriteLine($"--- node pid {process.Id} ---\n{process.StdOut}{process.StdErr}");
            process.Dispose();
        }
        if (Redis is not null) await Redis.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
