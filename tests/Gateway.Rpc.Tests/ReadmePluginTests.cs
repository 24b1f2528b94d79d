using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests;

/// <summary>
/// The README's "Write your first plugin" is code a newcomer copies: its project file and Greeter.cs are taken from the
/// markdown as written, built and published by the real SDK into a plugins folder, loaded by a real gateway and called.
/// The "Pushing from a plugin" excerpt is compiled into the same project, inside a [RpcService] class as the README says.
/// Only the reference to Gateway.Abstractions changes: the README points at a clone next to the plugin
/// (../gateway/src/...); the test references the Gateway.Abstractions.dll already built with these tests, so nothing
/// is restored from the network and no project of the repository is rebuilt.
/// </summary>
public sealed class ReadmePluginTests
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(3);
    private const string ReadmeAbstractionsReference = "../gateway/src/Gateway.Abstractions/Gateway.Abstractions.csproj";

    /// <summary>Every code block of README.md that follows a line naming its file ("`MyPlugin/Greeter.cs`:"), by that file name.</summary>
    internal static Dictionary<string, string> PluginFiles(string markdown)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = markdown.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i + 1 < lines.Length; i++)
        {
            var name = Regex.Match(lines[i], @"^`(MyPlugin/[^`]+)`:$");
            if (!name.Success || !lines[i + 1].StartsWith("```", StringComparison.Ordinal)) continue;
            int end = Array.FindIndex(lines, i + 2, l => l.StartsWith("```", StringComparison.Ordinal));
            Assert.True(end > 0, $"the code block of {name.Groups[1].Value} is not closed");
            files[name.Groups[1].Value] = string.Join('\n', lines[(i + 2)..end]) + "\n";
        }
        return files;
    }

    /// <summary>The first C# block after the heading <paramref name="heading"/>.</summary>
    internal static string CodeAfter(string markdown, string heading)
    {
        int at = markdown.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        Assert.True(at >= 0, $"README.md has no heading '{heading}'");
        int start = markdown.IndexOf("```csharp\n", at, StringComparison.Ordinal);
        Assert.True(start >= 0, $"no C# block after '{heading}'");
        start += "```csharp\n".Length;
        int end = markdown.IndexOf("\n```", start, StringComparison.Ordinal);
        return markdown[start..end] + "\n";
    }

    [Fact]
    public async Task The_README_plugin_builds_loads_and_answers()
    {
        string readme = File.ReadAllText(Path.Combine(PluginFolder.RepoRoot, "README.md"));
        var files = PluginFiles(readme);
        Assert.Equal(["MyPlugin/Greeter.cs", "MyPlugin/MyPlugin.csproj"], files.Keys.Order(StringComparer.Ordinal));

        using var folder = new PluginFolder();
        string source = Path.Combine(folder.Root, "src");
        string project = Path.Combine(source, "MyPlugin", "MyPlugin.csproj");
        string csproj = files["MyPlugin/MyPlugin.csproj"];
        Assert.Contains($"<ProjectReference Include=\"{ReadmeAbstractionsReference}\">", csproj);
        Directory.CreateDirectory(Path.GetDirectoryName(project)!);
        File.WriteAllText(project, WithBuiltAbstractions(csproj));
        File.WriteAllText(Path.Combine(source, "MyPlugin", "Greeter.cs"), files["MyPlugin/Greeter.cs"]);
        File.WriteAllText(Path.Combine(source, "MyPlugin", "Pushing.cs"), PushingExcerpt(CodeAfter(readme, "### Pushing from a plugin")));
        File.WriteAllText(Path.Combine(source, "MyPlugin", "Security.cs"), SecurityExcerpt(CodeAfter(readme, "### Authorization, call filters and connection hooks")));

        // The README's own command: dotnet publish MyPlugin -c Release -o plugins/MyPlugin.
        string output = Path.Combine(folder.PluginsPath, "MyPlugin");
        var (exit, log) = await RunDotnetAsync(source, "publish", "MyPlugin", "-c", "Release", "-o", output, "-nologo", "--disable-build-servers", "-nodeReuse:false");
        Assert.True(exit == 0, "dotnet publish of the README plugin failed:\n" + log);
        Assert.True(File.Exists(Path.Combine(output, "MyPlugin.dll")), log);
        // "the SDK comes from the host at run time: do not copy it into the plugin folder"
        Assert.False(File.Exists(Path.Combine(output, "Gateway.Abstractions.dll")), "the plugin folder holds its own Gateway.Abstractions.dll");

        await using var gateway = await RpcGateway.StartAsync(folder, RpcGateway.Settings(folder.PluginsPath,
            new Dictionary<string, string?> { ["MyPlugin:Prefix"] = "Howdy" }));
        await using var client = await gateway.ConnectAsync();

        var hello = await client.CallAsync("greeter/hello", new { name = "Ada" });
        Assert.True(hello["result"] is not null, hello.ToJsonString());
        Assert.Equal("Howdy, Ada!", hello["result"].Str("greeting"));

        var blank = await client.CallAsync("greeter/hello", new { name = " " });
        Assert.Equal("name is required", blank.AssertError("INVALID_ARGUMENT", 400).Str("message"));

        var whoami = await client.CallAsync("greeter/whoami");
        Assert.True(whoami["result"] is System.Text.Json.Nodes.JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.String
            && v.GetValue<string>().Length > 0, whoami.ToJsonString());

        // The authorization excerpt: its policy is registered (else the gateway would not start), its attributes hold.
        Assert.Equal("ok", (await client.ResultAsync("orders/status"))!.GetValue<string>());
        (await client.CallAsync("orders/list")).AssertError("UNAUTHENTICATED", 401);

        string id = await client.SendRequestAsync("greeter/countdown", 1);
        var stream = await client.ReadUntilTerminalAsync(id);
        Assert.Equal(["1", "0"], stream.Where(m => m.IsData()).Select(m => m["data"]!.ToJsonString()));
        Assert.True(stream[^1].IsDone(), stream[^1].ToJsonString());
    }

    /// <summary>The README project with its ProjectReference to a clone replaced by the built assemblies it would bring.</summary>
    private static string WithBuiltAbstractions(string csproj)
    {
        int start = csproj.IndexOf("    <ProjectReference", StringComparison.Ordinal);
        int end = csproj.IndexOf("</ProjectReference>", start, StringComparison.Ordinal) + "</ProjectReference>".Length;
        var references = new StringBuilder();
        // Gateway.Abstractions and the two abstractions it exposes in its API (IServiceCollection, IConfiguration).
        foreach (var name in new[] { "Gateway.Abstractions", "Microsoft.Extensions.DependencyInjection.Abstractions", "Microsoft.Extensions.Configuration.Abstractions" })
        {
            string dll = Path.Combine(AppContext.BaseDirectory, name + ".dll");
            Assert.True(File.Exists(dll), dll);
            references.Append($"    <Reference Include=\"{name}\"><HintPath>{dll}</HintPath><Private>false</Private></Reference>\n");
        }
        return csproj[..start] + references.ToString().TrimEnd('\n') + csproj[end..];
    }

    private static string PushingExcerpt(string excerpt) => $$"""
        using Gateway;

        namespace MyPlugin;

        public sealed record RoomInput(string Room);
        public sealed record SendInput(string Room, string Text);

        [RpcService("readme")]
        public sealed class PushingExcerpt
        {
        {{excerpt}}
        }
        """;

    private static string SecurityExcerpt(string excerpt) => $$"""
        using Gateway;
        using Microsoft.Extensions.Configuration;
        using Microsoft.Extensions.DependencyInjection;

        namespace MyPlugin;

        {{excerpt}}
        """;

    private static async Task<(int Exit, string Log)> RunDotnetAsync(string workingDirectory, params string[] args)
    {
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p && File.Exists(p) ? p : "dotnet";
        var psi = new ProcessStartInfo(dotnet)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // dotnet test hands its own MSBuild settings to its children: a nested build must start from a clean slate.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("MSBUILD", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(BuildTimeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)} did not finish within {BuildTimeout}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
