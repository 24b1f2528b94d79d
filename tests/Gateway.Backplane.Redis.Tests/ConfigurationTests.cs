using Gateway.Rpc.Tests.Infrastructure;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace Gateway.Backplane.Redis.Tests;

/// <summary>
/// Bad backplane settings stop the gateway before it starts, with a message naming the key: what RpcGateway.BuildProvider
/// does is what the host does (resolve the options and the server, where every such error surfaces). No Redis is needed.
/// </summary>
public sealed class ConfigurationTests(ITestOutputHelper output)
{
    private Exception BuildFails(IDictionary<string, string?> overrides, bool addRedis = true,
        Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? after = null)
    {
        using var folder = new PluginFolder();
        var settings = RpcGateway.Settings(folder.PluginsPath, overrides);
        Microsoft.Extensions.DependencyInjection.ServiceProvider? built = null;
        var ex = Record.Exception(() => built = RpcGateway.BuildProvider(settings, after: after ?? (addRedis ? s => s.AddRedisBackplane() : null)));
        if (built is not null)
        {
            built.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Assert.Fail("the gateway was built: expected a configuration error");
        }
        Assert.NotNull(ex);
        output.WriteLine($"{ex.GetType().Name}: {ex.Message}");
        // What Program.cs turns into "Invalid configuration, the gateway did not start" (exit code 2).
        Assert.True(ex is OptionsValidationException or Gateway.Server.Options.GatewayConfigurationException, $"unexpected {ex.GetType()}: {ex}");
        return ex;
    }

    private static Dictionary<string, string?> Redis(params (string Key, string? Value)[] settings)
    {
        var d = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Gateway:Backplane:Type"] = "Redis",
            ["Gateway:Backplane:Redis:Configuration"] = "127.0.0.1:6399",
        };
        foreach (var (k, v) in settings) d[k] = v;
        return d;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Type_Redis_without_a_configuration_string_names_the_key(string? configuration)
    {
        var ex = BuildFails(Redis(("Gateway:Backplane:Redis:Configuration", configuration)));
        Assert.Contains("Gateway:Backplane:Redis:Configuration", ex.Message);
        Assert.Contains("required", ex.Message);
    }

    [Theory]
    [InlineData("127.0.0.1:6379,connectTimeout=soon")] // not an integer
    [InlineData("127.0.0.1:6379,noSuchOption=1")]      // unknown keyword
    [InlineData("127.0.0.1:6379,ssl=maybe")]           // not a boolean
    [InlineData("127.0.0.1:99999")]                    // port out of range
    [InlineData("127.0.0.1:notaport")]                 // StackExchange.Redis drops it silently: no endpoint left
    [InlineData("password=secret")]                    // options, but no endpoint
    [InlineData(",,,")]                                // nothing at all
    public void A_malformed_configuration_string_names_the_key(string configuration)
    {
        var ex = BuildFails(Redis(("Gateway:Backplane:Redis:Configuration", configuration)));
        Assert.Contains("Gateway:Backplane:Redis:Configuration", ex.Message);
        Assert.Contains(configuration, ex.Message);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("bad/slash")]
    [InlineData("")]
    [InlineData("p1234567890123456789012345678901234567890123456789012345678901234")] // 65 characters
    public void An_invalid_channel_prefix_names_the_key(string prefix)
    {
        var ex = BuildFails(Redis(("Gateway:Backplane:Redis:ChannelPrefix", prefix)));
        Assert.Contains("Gateway:Backplane:Redis:ChannelPrefix", ex.Message);
    }

    [Theory]
    [InlineData("Gateway:Backplane:Redis:HeartbeatInterval", "00:00:00.010")]
    [InlineData("Gateway:Backplane:Redis:HeartbeatInterval", "00:00:00")]
    [InlineData("Gateway:Backplane:Redis:HeartbeatInterval", "01:00:00")]
    [InlineData("Gateway:Backplane:Redis:OperationTimeout", "00:00:00")]
    [InlineData("Gateway:Backplane:Redis:OperationTimeout", "-00:00:01")]
    public void A_duration_out_of_range_names_the_key(string key, string value)
    {
        var ex = BuildFails(Redis((key, value)));
        Assert.Contains(key, ex.Message);
    }

    [Fact]
    public void A_duration_that_is_not_a_duration_names_the_key()
    {
        var ex = BuildFails(Redis(("Gateway:Backplane:Redis:HeartbeatInterval", "often")));
        Assert.Contains("Gateway:Backplane:Redis:HeartbeatInterval must be a duration written hh:mm:ss", ex.Message);
        Assert.Contains("between 00:00:00.1000000 and 00:05:00 (got 'often')", ex.Message);
    }

    [Fact]
    public void An_unknown_backplane_type_names_the_key()
    {
        var ex = BuildFails(Redis(("Gateway:Backplane:Type", "Kafka")));
        Assert.Contains("Gateway:Backplane:Type must be one of InMemory, Redis (got 'Kafka')", ex.Message);
    }

    [Fact]
    public void Type_Redis_without_the_Redis_backplane_registered_names_the_key()
    {
        var ex = BuildFails(Redis(), addRedis: false);
        Assert.Contains("Gateway:Backplane:Type", ex.Message);
        Assert.Contains("AddRedisBackplane", ex.Message);
    }

    [Fact]
    public void With_Type_InMemory_the_Redis_section_is_still_checked_as_the_host_registers_it()
    {
        // The host registers the Redis section whichever backplane is selected (appsettings.json carries one), so a
        // typo there is reported even while the node runs alone; the Configuration string is only required with Type=Redis.
        var ex = BuildFails(new Dictionary<string, string?>
        {
            ["Gateway:Backplane:Redis:ChannelPrefix"] = "has space",
            ["Gateway:Backplane:Redis:Hots"] = "x",
        }, after: s => s.AddRedisBackplaneOptions());
        Assert.Contains("Gateway:Backplane:Redis:ChannelPrefix must be 1 to 64", ex.Message);
        Assert.Contains("Gateway:Backplane:Redis:Hots is not a configuration key; the keys under Gateway:Backplane:Redis are Configuration, ChannelPrefix", ex.Message);
        Assert.DoesNotContain("Gateway:Backplane:Redis:Configuration", ex.Message);
    }

    [Fact]
    public async Task Valid_Redis_settings_build_without_contacting_Redis()
    {
        // The control: the same path with good values resolves (nothing listens on 6399; nothing connects before start).
        using var folder = new PluginFolder();
        var settings = RpcGateway.Settings(folder.PluginsPath, Redis(("Gateway:Backplane:Redis:ChannelPrefix", "ok-prefix.1:x"),
            ("Gateway:Backplane:Redis:HeartbeatInterval", "00:00:00.200"), ("Gateway:Backplane:Redis:OperationTimeout", "00:00:01")));
        await using var provider = RpcGateway.BuildProvider(settings, after: s => s.AddRedisBackplane());
        var hub = (Gateway.Server.Push.PushHub)provider.GetService(typeof(Gateway.Server.Push.PushHub))!;
        Assert.Equal("Redis", hub.Backplane.Name);
        Assert.False(hub.Backplane.IsConnected);
    }
}
