using Gateway.Auth.Tests.Infrastructure;
using Gateway.Token;
using Microsoft.Extensions.Configuration;

namespace Gateway.Auth.Tests;

/// <summary>The README's one-minute path: config/appsettings.Auth.example.json plus a token from make token's tool.</summary>
public sealed class AuthExampleTests
{
    private static string ExampleFile => Path.Combine(AuthGateway.RepoRoot, "config", "appsettings.Auth.example.json");

    private static Dictionary<string, string?> ExampleSettings()
    {
        var example = new ConfigurationBuilder().AddJsonFile(ExampleFile).Build();
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in example.AsEnumerable()) if (value is not null) settings[key] = value;
        return settings;
    }

    [Fact]
    public async Task The_example_configuration_requires_a_token_and_accepts_one_from_make_token()
    {
        var settings = ExampleSettings();
        Assert.Equal("Required", settings["Gateway:Auth:Mode"]);
        await using var gateway = await AuthGateway.StartAsync(settings);
        Assert.Equal(401, (await gateway.HandshakeAsync()).Status);

        string token = TokenTool.Create(ExampleFile, "ada", ["admin"], TimeSpan.FromHours(1));
        await using var client = await gateway.ConnectAsync(token);
        var me = (await client.ResultAsync("auth-test/me"))!;
        Assert.Equal("ada", me.Str("userId"));
        Assert.True(me.Bool("isAdmin"));
    }

    [Fact]
    public void The_tool_refuses_bad_arguments_and_a_configuration_without_a_secret()
    {
        Assert.Equal(1, TokenTool.Main(["--minutes", "zero"]));
        Assert.Equal(1, TokenTool.Main(["--bogus"]));
        string noSecret = AuthGateway.TempFile("{\"Gateway\":{\"Auth\":{\"Mode\":\"Required\"}}}", ".json");
        Assert.Equal(2, TokenTool.Main(["--config", noSecret, "--user", "ada"]));
    }
}
