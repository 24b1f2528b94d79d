using Microsoft.Extensions.DependencyInjection;
using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests;

/// <summary>Plugin loading and binding: two plugins side by side, private dependencies, configuration, context, return shapes.</summary>
public sealed class PluginTests(StandardGatewayFixture fixture) : IClassFixture<StandardGatewayFixture>
{
    private RpcGateway Gateway => fixture.Gateway;

    [Fact]
    public async Task SampleAndTestPlugins_LoadTogether()
    {
        await using var client = await Gateway.ConnectAsync();
        Assert.Equal("both", (await client.ResultAsync("echo/echo", new { text = "both" })).Str("text"));
        Assert.Equal(42, (await client.ResultAsync("test/sync"))!.GetValue<int>());
        var catalog = Gateway.Provider.GetService(typeof(Gateway.Server.Plugins.PluginCatalog)) as Gateway.Server.Plugins.PluginCatalog;
        Assert.NotNull(catalog);
        Assert.Equal([Plugins.Samples, Plugins.Test], catalog!.Plugins.Select(p => p.Name).OrderBy(n => n, StringComparer.Ordinal));
    }

    [Fact]
    public async Task PrivateDependency_IsResolvedFromThePluginsOwnFolder()
    {
        await using var client = await Gateway.ConnectAsync();
        var report = await client.ResultAsync("test/dep");
        Assert.Equal("private-dependency-v1", report.Str("marker"));
        Assert.Equal("Gateway.TestPlugin.Dependency", report.Str("assembly"));
        Assert.Equal("plugin:Gateway.TestPlugin", report.Str("loadContext"));
        Assert.Equal("plugin:Gateway.TestPlugin", report.Str("pluginLoadContext"));
        string expectedFolder = Path.Combine(Gateway.Folder.PluginsPath, Plugins.Test);
        Assert.Equal(Path.Combine(expectedFolder, "Gateway.TestPlugin.Dependency.dll"), report.Str("location"));
        // The host itself does not have it.
        Assert.False(File.Exists(Path.Combine(AppContext.BaseDirectory, "Gateway.TestPlugin.Dependency.dll")),
            "the test host must not carry the plugin's private dependency");
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a =>
            a.GetName().Name == "Gateway.TestPlugin.Dependency" && System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(a) == System.Runtime.Loader.AssemblyLoadContext.Default);
    }

    [Fact]
    public async Task PluginEntryPoint_RegistersAServiceFromConfiguration()
    {
        await using var client = await Gateway.ConnectAsync();
        Assert.Equal(RpcGateway.Greeting, (await client.ResultAsync("test/greet"))!.GetValue<string>());
    }

    [Fact]
    public async Task Items_PersistAcrossCallsOfAConnection_AndAreSeparateBetweenConnections()
    {
        await using var a = await Gateway.ConnectAsync();
        await using var b = await Gateway.ConnectAsync();
        Assert.Equal(1, (await a.ResultAsync("test/items"))!.GetValue<int>());
        Assert.Equal(2, (await a.ResultAsync("test/items"))!.GetValue<int>());
        Assert.Equal(3, (await a.ResultAsync("test/items"))!.GetValue<int>());
        Assert.Equal(1, (await b.ResultAsync("test/items"))!.GetValue<int>());
        Assert.Equal(4, (await a.ResultAsync("test/items"))!.GetValue<int>());
        Assert.Equal(2, (await b.ResultAsync("test/items"))!.GetValue<int>());
        await using var c = await Gateway.ConnectAsync();
        Assert.Equal(1, (await c.ResultAsync("test/items"))!.GetValue<int>());
    }

    [Fact]
    public async Task Context_ShowsHeadersPathAndConnection()
    {
        await using var a = await Gateway.ConnectAsync(o => o.SetRequestHeader("X-Test-Header", "header value 1"));
        await using var b = await Gateway.ConnectAsync();
        Assert.Equal("header value 1", (await a.ResultAsync("test/headers", new { name = "X-Test-Header" }))!.GetValue<string>());
        Assert.Equal("header value 1", (await a.ResultAsync("test/headers", new { name = "x-test-header" }))!.GetValue<string>());
        Assert.Null(await b.ResultAsync("test/headers", new { name = "X-Test-Header" }));
        Assert.Equal("gateway.v1.json", (await a.ResultAsync("test/headers", new { name = "Sec-WebSocket-Protocol" }))!.GetValue<string>());
        Assert.Equal("test/path", (await a.ResultAsync("test/path"))!.GetValue<string>());
        string idA = (await a.ResultAsync("test/connectionId"))!.GetValue<string>();
        string idB = (await b.ResultAsync("test/connectionId"))!.GetValue<string>();
        Assert.NotEqual(idA, idB);
        Assert.Equal(idA, (await a.ResultAsync("test/connectionId"))!.GetValue<string>());
        // Node-qualified: "<node>.<number>", the same node for both, a different number.
        string node = Gateway.Provider.GetRequiredService<Gateway.Server.Push.PushHub>().NodeId;
        Assert.StartsWith(node + ".", idA);
        Assert.StartsWith(node + ".", idB);
    }

    [Theory]
    [InlineData("test/sync", "42")]
    [InlineData("test/task", "\"task\"")]
    [InlineData("test/taskYield", "\"taskYield\"")]
    [InlineData("test/valuetaskT", "\"valuetaskT\"")]
    [InlineData("test/valuetaskTYield", "\"valuetaskTYield\"")]
    public async Task EveryValueReturnShape_AnswersItsValue(string path, string expected)
    {
        await using var client = await Gateway.ConnectAsync();
        var reply = await client.CallAsync(path);
        Assert.True(Json.JsonEquals(JsonNode.Parse(expected), reply["result"]), reply.ToJsonString());
    }

    [Theory]
    [InlineData("test/void", "void")]
    [InlineData("test/nothing", "nothing")]
    [InlineData("test/nothingYield", "nothingYield")]
    [InlineData("test/valuetask", "valuetask")]
    [InlineData("test/valuetaskYield", "valuetaskYield")]
    public async Task EveryVoidReturnShape_RunsAndAnswersNull(string path, string evt)
    {
        await using var client = await Gateway.ConnectAsync();
        string key = Guid.NewGuid().ToString("N");
        var reply = await client.CallAsync(path, new { key });
        Assert.True(reply.ContainsKey("result"), reply.ToJsonString());
        Assert.Null(reply["result"]);
        Assert.False(reply.ContainsKey("error"));
        var events = (await client.ResultAsync("test/events"))!.AsArray().Select(e => e!.GetValue<string>());
        Assert.Contains($"{evt}:{key}", events);
    }

    [Fact]
    public async Task IntInput()
    {
        await using var client = await Gateway.ConnectAsync();
        Assert.Equal(42, (await client.ResultAsync("test/int", 21))!.GetValue<int>());
        foreach (object bad in new object[] { "x", new { value = 1 }, 1.5 })
        {
            var error = (await client.CallAsync("test/int", bad)).AssertError("INVALID_ARGUMENT", 400);
            Assert.Equal("invalid input for 'test/int': expects an integer", error.Str("message"));
        }
    }

    [Fact]
    public async Task RecordInputAndOutput()
    {
        await using var client = await Gateway.ConnectAsync();
        var result = await client.ResultAsync("test/record", new { x = 1, y = 2 });
        Assert.True(Json.JsonEquals(JsonNode.Parse("""{"x":2,"y":1}"""), result), result!.ToJsonString());
        var error = (await client.CallAsync("test/record", new { x = "one", y = 2 })).AssertError("INVALID_ARGUMENT", 400);
        Assert.Equal("invalid input for 'test/record': $.x must be an integer", error.Str("message"));
    }

    [Fact]
    public async Task OptionalInput_MayBeOmitted()
    {
        await using var client = await Gateway.ConnectAsync();
        Assert.Equal("(no input)", (await client.ResultAsync("test/optional"))!.GetValue<string>());
        Assert.Equal("k", (await client.ResultAsync("test/optional", new { key = "k" }))!.GetValue<string>());
    }
}
