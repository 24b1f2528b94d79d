using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Gateway.Deployment.Tests.Infrastructure;

/// <summary>
/// Reads YAML files through python3's yaml module (safe_load_all, printed as JSON): .NET has no YAML parser, and the
/// deployment files are only data. Fails (never skips) when python3-yaml is missing: make test-deps installs it.
/// </summary>
public static class Yaml
{
    private const string Script = "import sys, json, yaml\njson.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None], sys.stdout, default=str)";

    /// <summary>Every document of the file, as JSON.</summary>
    public static async Task<JsonArray> LoadAllAsync(string path)
    {
        var psi = new ProcessStartInfo("python3") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(Script);
        psi.ArgumentList.Add(path);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start python3");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"python3 could not read {path} as YAML (exit {process.ExitCode}; run `make test-deps` if the yaml module is missing):\n{await stderr}");
        return (JsonArray)JsonNode.Parse(await stdout)!;
    }

    public static async Task<JsonObject> LoadAsync(string path) => (JsonObject)(await LoadAllAsync(path)).Single()!;

    /// <summary>The file's document of that kind (Kubernetes manifests: one object per kind and file here).</summary>
    public static JsonObject OfKind(this JsonArray documents, string kind) =>
        (JsonObject)documents.Single(d => d!["kind"]?.GetValue<string>() == kind)!;
}
