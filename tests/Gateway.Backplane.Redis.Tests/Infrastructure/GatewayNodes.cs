using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;
using Gateway.Server.Push;
using Xunit.Abstractions;

namespace Gateway.Backplane.Redis.Tests.Infrastructure;

/// <summary>
/// Real gateways (RpcGateway: AddGateway, then AddRedisBackplane) sharing one Redis under one fresh ChannelPrefix, with
/// a short heartbeat and operation timeout; their logs go to the test output, prefixed by the node's name. Clients made
/// through <see cref="ConnectAsync"/> are disposed first, then the gateways.
/// </summary>
public sealed class GatewayNodes(RedisServer redis, ITestOutputHelper output) : IAsyncDisposable
{
    public const string Heartbeat = "00:00:00.200";
    public const string OperationTimeout = "00:00:01";

    private readonly List<RpcGateway> _gateways = [];
    private readonly List<RpcClient> _clients = [];

    public RedisServer Redis { get; } = redis;
    public string Prefix { get; } = "g" + Guid.NewGuid().ToString("N")[..12];
    public ITestOutputHelper Output { get; } = output;
    /// <summary>The time base of the nodes' logs, from this object's creation.</summary>
    public System.Diagnostics.Stopwatch Clock { get; } = System.Diagnostics.Stopwatch.StartNew();

    /// <summary>Every node's log lines, to await one.</summary>
    public LogSink Logs { get; } = new();

    /// <summary>Writes a line to the test output stamped with <see cref="Clock"/>, like the nodes' logs.</summary>
    public void Log(string line) => Output.WriteLine($"{Clock.Elapsed.TotalMilliseconds,7:0} ms {line}");

    public Dictionary<string, string?> Overrides(IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Gateway:Backplane:Type"] = "Redis",
            ["Gateway:Backplane:Redis:Configuration"] = Redis.Configuration,
            ["Gateway:Backplane:Redis:ChannelPrefix"] = Prefix,
            ["Gateway:Backplane:Redis:HeartbeatInterval"] = Heartbeat,
            ["Gateway:Backplane:Redis:OperationTimeout"] = OperationTimeout,
        };
        if (extra is not null) foreach (var (k, v) in extra) settings[k] = v;
        return settings;
    }

    /// <summary>Starts a gateway node (sample and test plugins) on 127.0.0.1 and a free port.</summary>
    public async Task<RpcGateway> StartAsync(string name, IDictionary<string, string?>? extra = null)
    {
        var folder = new PluginFolder(Plugins.Standard);
        try
        {
            var gateway = await RpcGateway.StartAsync(folder, RpcGateway.Settings(folder.PluginsPath, Overrides(extra)),
                after: s =>
                {
                    s.AddRedisBackplane();
                    s.AddTestOutput(Output, "[" + name + "]", Clock, Logs);
                });
            _gateways.Add(gateway);
            Log($"node {name} = {NodeId(gateway)} on port {gateway.Port}");
            return gateway;
        }
        catch
        {
            folder.Dispose();
            throw;
        }
    }

    /// <summary>Stops a node now (it drains, closes its connections and leaves the cluster), instead of at the end.</summary>
    public async Task StopAsync(RpcGateway gateway)
    {
        if (_gateways.Remove(gateway)) await gateway.DisposeAsync();
    }

    public static string NodeId(RpcGateway gateway) => Hub(gateway).NodeId;

    public static PushHub Hub(RpcGateway gateway) => (PushHub)gateway.Provider.GetService(typeof(PushHub))!;

    public async Task<RpcClient> ConnectAsync(RpcGateway gateway)
    {
        var client = await gateway.ConnectAsync();
        _clients.Add(client);
        return client;
    }

    /// <summary>A client's connection id (valid on every node), through push/whoami.</summary>
    public static async Task<string> ConnectionIdAsync(RpcClient client) =>
        (await client.ResultAsync("push/whoami"))!.GetValue<string>();

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            try { await client.DisposeAsync(); }
            catch (Exception ex) when (ex is ObjectDisposedException or InvalidOperationException) { }
        }
        // Every node is disposed even when one fails to (its listener and backplane connection would outlive the test);
        // the failures are reported together afterwards.
        var failures = new List<Exception>();
        foreach (var gateway in _gateways)
        {
            try { await gateway.DisposeAsync(); }
            catch (Exception ex) { failures.Add(ex); }
        }
        _gateways.Clear();
        if (failures.Count > 0) throw new AggregateException("disposing the gateway nodes failed", failures);
    }
}

/// <summary>Waits for what a client receives that is not a reply to its own requests.</summary>
public static class ClientWaits
{
    /// <summary>The next event (a message with "event") matching <paramref name="match"/>, skipping everything else; bounded.</summary>
    public static async Task<JsonObject> NextEventAsync(this RpcClient client, Func<JsonObject, bool> match, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? RpcClient.DefaultTimeout);
        for (int i = 0; i < 100_000; i++)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) break;
            JsonObject message;
            try { message = await client.NextAnyAsync(left); }
            catch (TimeoutException) { break; }
            if (message.ContainsKey("event") && match(message)) return message;
        }
        throw new TimeoutException($"no {what} within {(timeout ?? RpcClient.DefaultTimeout).TotalSeconds:0.#} s; received: {string.Join(" | ", client.Received.TakeLast(10).Select(m => m.ToJsonString()))}");
    }

    public static Task<JsonObject> NextEventAsync(this RpcClient client, string eventName, TimeSpan? timeout = null) =>
        client.NextEventAsync(m => m.Str("event") == eventName, "event " + eventName, timeout);

    public static List<JsonObject> EventsNamed(this RpcClient client, string eventName) =>
        client.Received.Where(m => m.Str("event") == eventName).ToList();
}

/// <summary>When backplanes report being connected again (StackExchange.Redis raises no event a test could await for every connection type, so this polls IsConnected, bounded).</summary>
public static class ReconnectWatch
{
    public static async Task<IReadOnlyDictionary<string, TimeSpan?>> WatchAsync(System.Diagnostics.Stopwatch since, TimeSpan limit, params (string Name, Gateway.Backplane.IBackplane Backplane)[] backplanes)
    {
        var seen = backplanes.ToDictionary(b => b.Name, _ => (TimeSpan?)null);
        var deadline = DateTime.UtcNow + limit;
        for (int i = 0; i < 10_000 && DateTime.UtcNow < deadline && seen.Values.Any(v => v is null); i++)
        {
            foreach (var (name, backplane) in backplanes)
            {
                if (seen[name] is null && backplane.IsConnected) seen[name] = since.Elapsed;
            }
            await Task.Delay(10); // the interval of a bounded poll
        }
        return seen;
    }

    public static string Describe(IReadOnlyDictionary<string, TimeSpan?> seen) =>
        string.Join(", ", seen.Select(kv => $"{kv.Key} +{(kv.Value is { } t ? $"{t.TotalMilliseconds:0} ms" : "never")}"));
}
