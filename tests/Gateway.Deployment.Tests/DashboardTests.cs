using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gateway.Deployment.Tests.Infrastructure;
using Gateway.Server.Tests;

namespace Gateway.Deployment.Tests;

/// <summary>
/// docker/grafana/dashboards/gateway.json queries what the gateway and HAProxy really export, and the compose stack's
/// Prometheus and Grafana provisioning fit together.
/// </summary>
public sealed partial class DashboardTests : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gateway-dashboard-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private static string Docker(params string[] parts) => Path.Combine([Path.GetDirectoryName(Haproxy.ConfigPath())!, .. parts]);

    [GeneratedRegex(@"\b((?:gateway|dotnet|process|haproxy)_[a-z0-9_]+)\b")]
    private static partial Regex MetricName();

    private static async Task<(JsonObject Dashboard, List<string> Expressions)> DashboardAsync()
    {
        var dashboard = (JsonObject)JsonNode.Parse(await File.ReadAllTextAsync(Docker("grafana", "dashboards", "gateway.json")))!;
        var expressions = dashboard["panels"]!.AsArray().SelectMany(p => p!["targets"]?.AsArray() ?? []).Select(t => t!["expr"]!.GetValue<string>()).ToList();
        return (dashboard, expressions);
    }

    private static string BaseName(string name) =>
        Regex.Replace(name, "_(bucket|sum|count)$", "") is var b && b != name && b.EndsWith("_seconds", StringComparison.Ordinal) ? b : name;

    private static HashSet<string> Exported(string prometheusText) =>
        prometheusText.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).ToHashSet();

    [Fact]
    public async Task Every_metric_the_dashboard_queries_is_exported()
    {
        var (_, expressions) = await DashboardAsync();
        // Label values ("gateway_nodes", the HAProxy backend) are not metric names.
        var names = expressions.Select(e => Regex.Replace(e, "\"[^\"]*\"", "\"\""))
            .SelectMany(e => MetricName().Matches(e).Select(m => BaseName(m.Groups[1].Value))).ToHashSet();

        // The gateway's own, from the real host with the sample plugin.
        using var host = HostProcess.Start("--Gateway:Listen:0=127.0.0.1:0", "--Gateway:Plugins:Path=" + HostProcess.SamplePluginsFolder(_root));
        int port = await host.BoundPortAsync(StartTimeout);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var gateway = Exported(await http.GetStringAsync($"http://127.0.0.1:{port}/metrics"));
        foreach (var name in names.Where(n => !n.StartsWith("haproxy_", StringComparison.Ordinal)))
            Assert.True(gateway.Contains(name), $"the dashboard queries {name}, which /metrics does not export");

        // HAProxy's, from docker/haproxy.cfg's stats frontend (no node needs to be up for its metrics page).
        await using var haproxy = await Haproxy.StartAsync("127.0.0.1:9", "127.0.0.1:9", "1s", 2, 2);
        var exported = (await http.GetStringAsync($"http://127.0.0.1:{haproxy.StatsPort}/metrics"));
        foreach (var name in names.Where(n => n.StartsWith("haproxy_", StringComparison.Ordinal)))
            Assert.True(Exported(exported).Contains(name), $"the dashboard queries {name}, which HAProxy's exporter does not have");

        // The areas an operator looks for each have their figures.
        string[] required =
        [
            "gateway_connections_active", "gateway_websocket_upgrades_total", "gateway_handshakes_rejected_total",
            "gateway_connection_limit_rejections_total", "gateway_messages_received_total", "gateway_sent_bytes_total",
            "gateway_rpc_calls_total", "gateway_rpc_duration_seconds", "gateway_slow_consumer_dropped_frames_total",
            "gateway_rate_limited_total", "gateway_backplane_connected", "gateway_backplane_errors_total",
        ];
        Assert.All(required, r => Assert.Contains(r, names));
    }

    [Fact]
    public async Task Compose_provisions_Grafana_with_the_dashboard_and_Prometheus_scrapes_every_node()
    {
        var (dashboard, _) = await DashboardAsync();
        var compose = await Yaml.LoadAsync(Docker("compose.yaml"));
        var services = compose["services"]!.AsObject();

        // The data source uid the panels use is the provisioned one.
        var datasource = (await Yaml.LoadAsync(Docker("grafana", "provisioning", "datasources", "prometheus.yaml")))["datasources"]![0]!;
        var uids = dashboard["panels"]!.AsArray().Select(p => p!["datasource"]?["uid"]?.GetValue<string>()).Where(u => u is not null).Distinct().ToList();
        Assert.Equal([datasource["uid"]!.GetValue<string>()], uids);
        Assert.Equal("http://prometheus:9090", datasource["url"]!.GetValue<string>());
        Assert.True(services.ContainsKey("prometheus"));

        // The dashboard folder Grafana loads is where compose mounts grafana/dashboards.
        var provider = (await Yaml.LoadAsync(Docker("grafana", "provisioning", "dashboards", "gateway.yaml")))["providers"]![0]!;
        string path = provider["options"]!["path"]!.GetValue<string>();
        var mounts = services["grafana"]!["volumes"]!.AsArray().Select(v => v!.GetValue<string>()).ToList();
        Assert.Contains($"./grafana/dashboards:{path}:ro", mounts);
        Assert.Contains("./grafana/provisioning:/etc/grafana/provisioning:ro", mounts);

        // Prometheus scrapes every gateway service of the stack on the image's port, and HAProxy's stats port.
        var scrape = (await Yaml.LoadAsync(Docker("prometheus", "prometheus.yml")))["scrape_configs"]!.AsArray();
        var targets = scrape.SelectMany(j => j!["static_configs"]!.AsArray().SelectMany(c => c!["targets"]!.AsArray().Select(t => t!.GetValue<string>()))).ToHashSet();
        var gateways = services.Where(s => s.Value!["image"]?.GetValue<string>() == "gateway:local").Select(s => s.Key + ":8080").ToList();
        Assert.Equal(2, gateways.Count);
        Assert.All(gateways, g => Assert.Contains(g, targets));
        Assert.Contains("haproxy:8404", targets);
        Assert.Contains(services["prometheus"]!["volumes"]!.AsArray(), v => v!.GetValue<string>() == "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro");
    }
}
