using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Gateway.Server;
using Gateway.Server.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Auth.Tests.Infrastructure;

/// <summary>The answer to a raw handshake: status, head, body (the JSON error of a refusal).</summary>
public sealed record HandshakeAnswer(int Status, string Head, string Body)
{
    public JsonObject Json => (JsonObject)JsonNode.Parse(Body)!;
    public string? ErrorCode => Json["error"]?["code"]?.GetValue<string>();
    public string? ErrorMessage => Json["error"]?["message"]?.GetValue<string>();
}

/// <summary>
/// A real gateway as the host builds it (AddGateway over an in-memory configuration), listening on 127.0.0.1 and a
/// free port, with the authentication test plugin in a fresh temp plugins folder and every log line captured.
/// Defaults: Auth:Mode Required, the HS256 test secret, issuer and audience checked, no clock skew.
/// </summary>
public sealed class AuthGateway : IAsyncDisposable
{
    private readonly string _root;

    private AuthGateway(string root, ServiceProvider provider, GatewayServer server, LogCapture logs)
    {
        _root = root;
        Provider = provider;
        Server = server;
        Logs = logs;
    }

    public ServiceProvider Provider { get; }
    public GatewayServer Server { get; }
    public LogCapture Logs { get; }
    public GatewayMetrics Metrics => Server.Metrics;
    public IPEndPoint EndPoint => Server.BoundEndPoints[0];
    public Uri Uri(string query = "") => new($"ws://127.0.0.1:{EndPoint.Port}/ws{query}");

    public static Dictionary<string, string?> Defaults() => new(StringComparer.OrdinalIgnoreCase)
    {
        ["Gateway:Listen:0"] = "127.0.0.1:0",
        ["Gateway:Timeouts:Close"] = "00:00:01",
        ["Gateway:Timeouts:HeartbeatResolution"] = "00:00:00.050",
        ["Gateway:Limits:ClientFaultLogsPerSecond"] = "0",
        ["Gateway:Auth:Mode"] = "Required",
        ["Gateway:Auth:Jwt:Secret"] = Tokens.Secret,
        ["Gateway:Auth:Jwt:Issuer"] = Tokens.Issuer,
        ["Gateway:Auth:Jwt:Audience"] = Tokens.Audience,
        ["Gateway:Auth:Jwt:ClockSkew"] = "00:00:00",
    };

    /// <summary>Starts with <see cref="Defaults"/>, then <paramref name="overrides"/> (a null value removes the key).</summary>
    public static async Task<AuthGateway> StartAsync(IDictionary<string, string?>? overrides = null, bool withPlugin = true)
    {
        var settings = Defaults();
        if (overrides is not null)
        {
            foreach (var (k, v) in overrides)
            {
                if (v is null) settings.Remove(k);
                else settings[k] = v;
            }
        }
        string root = Path.Combine(Path.GetTempPath(), "gateway-auth-tests", Guid.NewGuid().ToString("N"));
        string plugins = Path.Combine(root, "plugins");
        Directory.CreateDirectory(plugins);
        if (withPlugin) CopyDirectory(PluginBuildOutput, Path.Combine(plugins, "Gateway.AuthTestPlugin"));
        settings["Gateway:Plugins:Path"] = plugins;
        var logs = new LogCapture(LogLevel.Trace);
        var provider = Build(settings, logs);
        try
        {
            var server = provider.GetRequiredService<GatewayServer>();
            await provider.GetRequiredService<Gateway.Server.Push.PushHub>().StartAsync();
            await server.StartAsync();
            return new AuthGateway(root, provider, server, logs);
        }
        catch
        {
            await provider.DisposeAsync();
            throw;
        }
    }

    /// <summary>AddGateway over <paramref name="settings"/>, with <paramref name="logs"/> as the logger factory; resolving the server surfaces configuration errors.</summary>
    public static ServiceProvider Build(IDictionary<string, string?> settings, LogCapture logs)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<ILoggerFactory>(logs);
        services.AddGateway(configuration);
        return services.BuildServiceProvider();
    }

    /// <summary>A raw upgrade request to /ws (plus <paramref name="query"/>) with extra header lines; reads the answer (and the body of a refusal).</summary>
    public async Task<HandshakeAnswer> HandshakeAsync(string? headers = null, string query = "", string? subprotocols = "gateway.v1.json")
    {
        await using var client = await RawClient.ConnectAsync(EndPoint);
        await client.SendAsync(Encoding.ASCII.GetBytes(RawClient.UpgradeRequest("/ws" + query, subprotocols: subprotocols, extraHeaders: headers)));
        var (status, head) = await client.ReadHttpHeadAsync();
        string body = status == 101 ? "" : await client.ReadToEndAsync();
        return new HandshakeAnswer(status, head, body);
    }

    public static string Bearer(string token) => $"Authorization: Bearer {token}\r\n";

    /// <summary>Connects an RPC client with <c>Authorization: Bearer</c> <paramref name="token"/> (none when null).</summary>
    public Task<RpcClient> ConnectAsync(string? token = null, string query = "", Action<System.Net.WebSockets.ClientWebSocketOptions>? configure = null) =>
        RpcClient.ConnectAsync(Uri(query), o =>
        {
            if (token is not null) o.SetRequestHeader("Authorization", "Bearer " + token);
            configure?.Invoke(o);
        });

    /// <summary>The /metrics text.</summary>
    public async Task<string> ScrapeAsync()
    {
        await using var client = await RawClient.ConnectAsync(EndPoint);
        await client.SendAsync("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        await client.ReadHttpHeadAsync();
        return await client.ReadToEndAsync();
    }

    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) return dir.FullName;
            throw new InvalidOperationException("Gateway.sln not found above " + AppContext.BaseDirectory);
        }
    }

    private static string PluginBuildOutput
    {
        get
        {
            var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            string output = Path.Combine(RepoRoot, "tests", "plugins", "Gateway.AuthTestPlugin", "bin", tfm.Parent!.Name, tfm.Name);
            if (!File.Exists(Path.Combine(output, "Gateway.AuthTestPlugin.dll")))
                throw new InvalidOperationException($"Gateway.AuthTestPlugin is not built in {output} (building the test project builds it).");
            return output;
        }
    }

    private static void CopyDirectory(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        foreach (var dir in Directory.GetDirectories(source)) CopyDirectory(dir, Path.Combine(target, Path.GetFileName(dir)));
    }

    /// <summary>A fresh temp file holding <paramref name="text"/> (deleted with the gateway's temp folder when made through <see cref="TempFile"/> of an instance; these live under the shared temp root).</summary>
    public static string TempFile(string text, string extension = ".pem")
    {
        string dir = Path.Combine(Path.GetTempPath(), "gateway-auth-tests", "files");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, Guid.NewGuid().ToString("N") + extension);
        File.WriteAllText(path, text);
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await Server.StopAsync(cts.Token);
            await Provider.GetRequiredService<Gateway.Server.Push.PushHub>().StopAsync(cts.Token);
        }
        finally
        {
            await Provider.DisposeAsync();
            try { Directory.Delete(_root, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }
}
