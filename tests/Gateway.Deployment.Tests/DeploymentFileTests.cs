using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gateway.Deployment.Tests.Infrastructure;
using Gateway.Server.Tests;
using Xunit.Abstractions;

namespace Gateway.Deployment.Tests;

/// <summary>
/// The compose and Kubernetes files of docker/, checked against the gateway they run: the ConfigMap's appsettings.json
/// is accepted by the real host, the grace periods cover the gateway's own stop, and the probes, ports and selectors
/// point where they must. (The HAProxy configuration runs for real in LoadBalancerTests.)
/// </summary>
public sealed class DeploymentFileTests(ITestOutputHelper output)
{
    private static string Docker(params string[] parts) => Path.Combine([Path.GetDirectoryName(Haproxy.ConfigPath())!, .. parts]);

    private static TimeSpan Seconds(JsonNode? node) => TimeSpan.FromSeconds(node!.GetValue<double>());

    /// <summary>How long the host may take to stop after SIGTERM: Timeouts:Shutdown + Timeouts:Close + 10 s (Program.cs).</summary>
    private static TimeSpan HostStop(JsonObject appSettings)
    {
        var timeouts = appSettings["Gateway"]?["Timeouts"];
        var shutdown = TimeSpan.Parse(timeouts?["Shutdown"]?.GetValue<string>() ?? "00:00:30", System.Globalization.CultureInfo.InvariantCulture);
        var close = TimeSpan.Parse(timeouts?["Close"]?.GetValue<string>() ?? "00:00:05", System.Globalization.CultureInfo.InvariantCulture);
        return shutdown + close + TimeSpan.FromSeconds(10);
    }

    private static async Task<JsonObject> ConfigMapSettingsAsync()
    {
        var configMap = (await Yaml.LoadAllAsync(Docker("kubernetes", "configmap.yaml"))).OfKind("ConfigMap");
        return (JsonObject)JsonNode.Parse(configMap["data"]!["appsettings.json"]!.GetValue<string>())!;
    }

    [Fact]
    public async Task The_ConfigMap_appsettings_json_starts_the_real_host()
    {
        var configMap = (await Yaml.LoadAllAsync(Docker("kubernetes", "configmap.yaml"))).OfKind("ConfigMap");
        string json = configMap["data"]!["appsettings.json"]!.GetValue<string>();
        // Only what a test machine cannot have is overridden: the listen address and the broker.
        using var host = HostProcess.StartWithAppSettings(json, new Dictionary<string, string>(),
            "--Gateway:Listen:0=127.0.0.1:0", "--Gateway:Backplane:Type=InMemory");
        int port = await host.BoundPortAsync(TimeSpan.FromSeconds(60));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var ready = await http.GetAsync($"http://127.0.0.1:{port}/readyz");
        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
        output.WriteLine(host.StdOut);
        // Gateway:Logging:Format=Json there: every console line is a JSON object for the cluster's log collector.
        Assert.All(host.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            line => Assert.True(JsonNode.Parse(line) is JsonObject o && o.ContainsKey("@t"), line));
    }

    [Fact]
    public async Task The_Kubernetes_Deployment_probes_drains_and_selects_as_the_gateway_needs()
    {
        var deployment = (await Yaml.LoadAllAsync(Docker("kubernetes", "deployment.yaml"))).OfKind("Deployment");
        var service = (await Yaml.LoadAllAsync(Docker("kubernetes", "service.yaml"))).OfKind("Service");
        var pdb = (await Yaml.LoadAllAsync(Docker("kubernetes", "pdb.yaml"))).OfKind("PodDisruptionBudget");
        var pod = deployment["spec"]!["template"]!;
        var container = (JsonObject)pod["spec"]!["containers"]!.AsArray().Single(c => c!["name"]!.GetValue<string>() == "gateway")!;
        var labels = pod["metadata"]!["labels"]!.AsObject();

        // Probes: liveness /healthz, readiness /readyz, on the container's port.
        Assert.Equal("/healthz", container["livenessProbe"]!["httpGet"]!["path"]!.GetValue<string>());
        Assert.Equal("/readyz", container["readinessProbe"]!["httpGet"]!["path"]!.GetValue<string>());
        string portName = container["readinessProbe"]!["httpGet"]!["port"]!.GetValue<string>();
        var port = container["ports"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == portName)!;
        Assert.Equal(8080, port["containerPort"]!.GetValue<int>()); // the image's Gateway__Listen__0=0.0.0.0:8080

        // preStop sleeps, then SIGTERM: the grace period covers the sleep and the host's whole stop.
        var preStop = container["lifecycle"]!["preStop"]!["exec"]!["command"]!.AsArray().Select(c => c!.GetValue<string>()).ToArray();
        Assert.Equal("sleep", preStop[0]);
        var sleep = TimeSpan.FromSeconds(double.Parse(preStop[1], System.Globalization.CultureInfo.InvariantCulture));
        var grace = Seconds(pod["spec"]!["terminationGracePeriodSeconds"]);
        var stop = HostStop(await ConfigMapSettingsAsync());
        Assert.True(grace > sleep + stop, $"terminationGracePeriodSeconds {grace.TotalSeconds} s must exceed preStop {sleep.TotalSeconds} s + the host's stop {stop.TotalSeconds} s");
        // The readiness probe notices a drain well within the preStop's wait.
        var readiness = container["readinessProbe"]!;
        Assert.True(Seconds(readiness["periodSeconds"]) * readiness["failureThreshold"]!.GetValue<int>() <= sleep);

        // The ConfigMap lands where the host reads appsettings.json (its working directory, /app).
        var mount = container["volumeMounts"]!.AsArray().Single(m => m!["mountPath"]!.GetValue<string>() == "/app/appsettings.json")!;
        var volume = pod["spec"]!["volumes"]!.AsArray().Single(v => v!["name"]!.GetValue<string>() == mount["name"]!.GetValue<string>())!;
        Assert.Equal("gateway-config", volume["configMap"]!["name"]!.GetValue<string>());
        Assert.Equal("appsettings.json", mount["subPath"]!.GetValue<string>());
        Assert.NotNull(container["resources"]!["requests"]);
        Assert.NotNull(container["resources"]!["limits"]!["memory"]);

        // The Service and the PodDisruptionBudget select these pods; the Service targets the probed port.
        foreach (var selector in new[] { service["spec"]!["selector"]!.AsObject(), pdb["spec"]!["selector"]!["matchLabels"]!.AsObject() })
            Assert.All(selector, kv => Assert.Equal(kv.Value!.GetValue<string>(), labels[kv.Key]?.GetValue<string>()));
        Assert.Equal(portName, service["spec"]!["ports"]![0]!["targetPort"]!.GetValue<string>());
        Assert.Null(service["spec"]!["sessionAffinity"] is { } affinity && affinity.GetValue<string>() != "None" ? affinity : null);

        // kubectl apply -k applies every file of the folder.
        var kustomization = await Yaml.LoadAsync(Docker("kubernetes", "kustomization.yaml"));
        var listed = kustomization["resources"]!.AsArray().Select(r => r!.GetValue<string>()).Order().ToArray();
        var files = Directory.GetFiles(Docker("kubernetes"), "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").Order().ToArray();
        Assert.Equal(files, listed);
    }

    [Fact]
    public async Task The_compose_stack_runs_the_tested_haproxy_config_and_lets_nodes_drain()
    {
        var compose = await Yaml.LoadAsync(Docker("compose.yaml"));
        var services = compose["services"]!.AsObject();
        var haproxy = services["haproxy"]!;
        // HAProxy runs docker/haproxy.cfg, the file LoadBalancerTests run.
        Assert.Contains(haproxy["volumes"]!.AsArray(), v => v!.GetValue<string>().StartsWith("./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg", StringComparison.Ordinal));
        // The nodes the config names by default are services of the stack, on the image's port.
        string config = await File.ReadAllTextAsync(Haproxy.ConfigPath());
        var nodes = Regex.Matches(config, @"\$\{GATEWAY_NODE\d-([\w-]+):(\d+)\}").Select(m => (Name: m.Groups[1].Value, Port: m.Groups[2].Value)).ToList();
        Assert.Equal(2, nodes.Count);
        var stop = HostStop(new JsonObject()); // the image's appsettings.json keeps the defaults
        foreach (var (name, portText) in nodes)
        {
            Assert.Equal("8080", portText);
            var node = services[name] ?? throw new Xunit.Sdk.XunitException($"haproxy.cfg names {name}, which compose.yaml does not run");
            Assert.Equal("Redis", node["environment"]!["Gateway__Backplane__Type"]!.GetValue<string>());
            Assert.Contains(node["volumes"]!.AsArray(), v => v!.GetValue<string>().Contains(":/app/plugins", StringComparison.Ordinal));
            string grace = node["stop_grace_period"]!.GetValue<string>();
            Assert.Matches(@"^\d+s$", grace);
            Assert.True(TimeSpan.FromSeconds(int.Parse(grace.TrimEnd('s'), System.Globalization.CultureInfo.InvariantCulture)) > stop,
                $"stop_grace_period {grace} must exceed the host's stop ({stop.TotalSeconds} s)");
        }
    }
}
