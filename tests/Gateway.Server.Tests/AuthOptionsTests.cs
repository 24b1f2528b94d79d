using Gateway.Server.Options;
using Microsoft.Extensions.Configuration;

namespace Gateway.Server.Tests;

/// <summary>Gateway:Auth:DescribeVisibleOnly, read and checked as the host reads the Gateway section.</summary>
public class AuthOptionsTests
{
    private static (GatewayOptions Options, List<string> Errors) Read(string key, string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new KeyValuePair<string, string?>(key, value)]).Build();
        var options = new GatewayOptions();
        return (options, GatewayConfigurationReader.Bind(configuration.GetSection(GatewayOptions.SectionName), options));
    }

    [Fact]
    public void DescribeVisibleOnly_defaults_to_true_and_binds_false()
    {
        Assert.True(new GatewayOptions().Auth.DescribeVisibleOnly);
        var (options, errors) = Read("Gateway:Auth:DescribeVisibleOnly", "false");
        Assert.Empty(errors);
        Assert.False(options.Auth.DescribeVisibleOnly);
    }

    [Fact]
    public void DescribeVisibleOnly_that_is_not_a_boolean_names_the_key_and_the_values()
    {
        var (_, errors) = Read("Gateway:Auth:DescribeVisibleOnly", "yes");
        var error = Assert.Single(errors);
        Assert.Equal("Gateway:Auth:DescribeVisibleOnly must be true or false (got 'yes').", error);
    }
}
