using Gateway.Server.Options;
using Microsoft.Extensions.Configuration;

namespace Gateway.Server.Tests;

/// <summary>Gateway:Compression is checked at startup like every other section: each message names the key and the range.</summary>
public class CompressionOptionsTests
{
    public static TheoryData<string, Action<CompressionOptions>, string> Bad() => new()
    {
        { "Gateway:Compression:Level", o => o.Level = 0, "between 1 and 9 (got 0)" },
        { "Gateway:Compression:Level", o => o.Level = 10, "between 1 and 9 (got 10)" },
        { "Gateway:Compression:MinMessageBytes", o => o.MinMessageBytes = -1, "between 0 and 1073741824 (got -1)" },
        { "Gateway:Compression:ServerMaxWindowBits", o => o.ServerMaxWindowBits = 8, "between 9 and 15 (got 8)" },
        { "Gateway:Compression:ServerMaxWindowBits", o => o.ServerMaxWindowBits = 16, "between 9 and 15 (got 16)" },
        { "Gateway:Compression:ClientMaxWindowBits", o => o.ClientMaxWindowBits = 7, "between 9 and 15 (got 7)" },
    };

    [Theory]
    [MemberData(nameof(Bad))]
    public void Out_of_range_values_are_refused_naming_the_key(string key, Action<CompressionOptions> configure, string fragment)
    {
        var o = new GatewayOptions();
        configure(o.Compression);
        var error = Assert.Single(GatewayOptionsValidator.Collect(o));
        Assert.StartsWith(key + " must be ", error);
        Assert.Contains(fragment, error);
    }

    [Fact]
    public void Defaults_are_on_and_chosen_for_memory()
    {
        var o = new GatewayOptions().Compression;
        Assert.True(o.Enabled);
        Assert.False(o.ServerContextTakeover);
        Assert.False(o.ClientContextTakeover);
        Assert.Empty(GatewayOptionsValidator.Collect(new GatewayOptions()));
    }

    [Fact]
    public void Keys_are_read_from_configuration_and_unknown_or_malformed_ones_are_named()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gateway:Compression:Level"] = "6",
            ["Gateway:Compression:ServerContextTakeover"] = "true",
            ["Gateway:Compression:ClientMaxWindowBits"] = "12",
        }).Build();
        var options = new GatewayOptions();
        Assert.Empty(GatewayConfigurationReader.Bind(config.GetSection("Gateway"), options));
        Assert.Equal(6, options.Compression.Level);
        Assert.True(options.Compression.ServerContextTakeover);
        Assert.Equal(12, options.Compression.ClientMaxWindowBits);

        var bad = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gateway:Compression:WindowBits"] = "10",
            ["Gateway:Compression:Enabled"] = "yes",
        }).Build();
        var errors = GatewayConfigurationReader.Bind(bad.GetSection("Gateway"), new GatewayOptions());
        Assert.Contains(errors, e => e.StartsWith("Gateway:Compression:WindowBits is not a configuration key") && e.Contains("ServerMaxWindowBits"));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Compression:Enabled must be true or false"));
    }
}
