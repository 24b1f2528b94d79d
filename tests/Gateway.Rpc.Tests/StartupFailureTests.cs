using Gateway.Rpc.Tests.Infrastructure;
using Gateway.Server.Plugins;

namespace Gateway.Rpc.Tests;

/// <summary>A plugin that cannot be used stops the gateway at startup with a PluginLoadException naming the culprit.</summary>
public sealed class StartupFailureTests
{
    private static PluginLoadException BuildFails(PluginFolder folder)
    {
        var ex = Record.Exception(() => RpcGateway.BuildProvider(RpcGateway.Settings(folder.PluginsPath)).Dispose());
        Assert.NotNull(ex);
        return Assert.IsType<PluginLoadException>(ex);
    }

    [Fact]
    public void HandlerWithTwoInputs_NamesThePluginTypeAndMethod()
    {
        using var folder = new PluginFolder(Plugins.Samples, Plugins.BadSignature);
        var ex = BuildFails(folder);
        Assert.Contains("'Gateway.BadSignaturePlugin'", ex.Message);
        Assert.Contains("Gateway.BadSignaturePlugin.BadSignatureService", ex.Message);
        Assert.Contains("AddTwoInputs", ex.Message);
        Assert.Contains("'left'", ex.Message);
        Assert.Contains("'right'", ex.Message);
    }

    [Fact]
    public void DuplicateProcedureAcrossPlugins_NamesBothPlaces()
    {
        using var folder = new PluginFolder(Plugins.Samples, Plugins.Duplicate);
        var ex = BuildFails(folder);
        Assert.Contains("'echo/echo'", ex.Message);
        Assert.Contains("'Gateway.DuplicatePlugin'", ex.Message);
        Assert.Contains("Gateway.DuplicatePlugin.DuplicateEchoService.EchoAgain", ex.Message);
        Assert.Contains("'Gateway.Samples'", ex.Message);
        Assert.Contains("Gateway.Samples.EchoService.Echo", ex.Message);
    }

    [Fact]
    public void DuplicateProcedureWithinOnePlugin_NamesBothPlaces()
    {
        using var folder = new PluginFolder(Plugins.DuplicateSelf);
        var ex = BuildFails(folder);
        Assert.Contains("'dup/same'", ex.Message);
        Assert.Contains("'Gateway.DuplicateSelfPlugin'", ex.Message);
        Assert.Contains("Gateway.DuplicateSelfPlugin.FirstDuplicateService.First", ex.Message);
        Assert.Contains("Gateway.DuplicateSelfPlugin.SecondDuplicateService.Second", ex.Message);
    }

    [Fact]
    public void CrashingConfigureServices_NamesThePluginTypeAndMethod()
    {
        using var folder = new PluginFolder(Plugins.Samples, Plugins.Crashing);
        var ex = BuildFails(folder);
        Assert.Contains("'Gateway.CrashingPlugin'", ex.Message);
        Assert.Contains("Gateway.CrashingPlugin.CrashingPluginEntry", ex.Message);
        Assert.Contains("ConfigureServices", ex.Message);
        Assert.Contains("crashing plugin refuses to configure", ex.Message);
        Assert.IsType<InvalidOperationException>(ex.InnerException);
    }

    [Fact]
    public void PluginFolderWithoutItsAssembly_NamesTheFolderAndTheMissingDll()
    {
        using var folder = new PluginFolder(Plugins.Samples);
        string broken = folder.Add(Plugins.Test);
        File.Delete(Path.Combine(broken, Plugins.Test + ".dll"));
        var ex = BuildFails(folder);
        Assert.Contains("'Gateway.TestPlugin'", ex.Message);
        Assert.Contains("Gateway.TestPlugin.dll", ex.Message);
    }

    [Fact]
    public void EmptyPluginFolder_NamesTheFolder()
    {
        using var folder = new PluginFolder(Plugins.Samples);
        Directory.CreateDirectory(Path.Combine(folder.PluginsPath, "Gateway.Ghost"));
        var ex = BuildFails(folder);
        Assert.Contains("'Gateway.Ghost'", ex.Message);
        Assert.Contains("Gateway.Ghost.dll", ex.Message);
    }

    [Fact]
    public async Task MissingPluginsFolder_ServesOnlyTheBuiltIns()
    {
        using var folder = new PluginFolder();
        string missing = Path.Combine(folder.Root, "no-such-folder");
        await using var gateway = await RpcGateway.StartAsync(folder, RpcGateway.Settings(missing));
        await using var client = await gateway.ConnectAsync();
        await client.PingAsync();
        (await client.CallAsync("echo/echo", new { text = "x" })).AssertError("NOT_FOUND", 404);
        var names = (await client.ResultAsync("$describe"))!["procedures"]!.AsArray().Select(p => p.Str("name")).ToList();
        Assert.Equal(["$auth", "$describe", "$ping", "$subscribe", "$unsubscribe"], names);
    }

    [Fact]
    public async Task EmptyPluginsFolder_ServesOnlyTheBuiltIns()
    {
        var folder = new PluginFolder();
        await using var gateway = await RpcGateway.StartAsync(folder, RpcGateway.Settings(folder.PluginsPath));
        await using var client = await gateway.ConnectAsync();
        await client.PingAsync();
        (await client.CallAsync("test/sync")).AssertError("NOT_FOUND", 404);
    }
}
