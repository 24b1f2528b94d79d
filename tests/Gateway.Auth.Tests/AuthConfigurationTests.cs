using System.Security.Cryptography;
using Gateway.Auth.Tests.Infrastructure;
using Gateway.Server;
using Gateway.Server.Options;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Gateway.Auth.Tests;

/// <summary>Every Gateway:Auth key is checked at startup, and the message names the key and what is allowed.</summary>
public sealed class AuthConfigurationTests
{
    private static List<string> Errors(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var options = new GatewayOptions();
        var errors = GatewayConfigurationReader.Bind(configuration.GetSection("Gateway"), options);
        errors.AddRange(GatewayOptionsValidator.Collect(options));
        return errors;
    }

    private static string OneError(string key, string value)
    {
        var errors = Errors(new() { [key] = value });
        Assert.True(errors.Count >= 1, $"no error for {key}={value}");
        return Assert.Single(errors, e => e.Contains(key));
    }

    [Fact]
    public void Defaults_are_valid_and_mode_is_none()
    {
        Assert.Empty(Errors(new()));
        var o = new GatewayOptions();
        Assert.Equal(AuthMode.None, o.Auth.Mode);
        Assert.Equal("access_token", o.Auth.QueryParameter);
        Assert.Null(o.Auth.Cookie);
        Assert.Equal(TimeSpan.FromSeconds(30), o.Auth.Jwt.ClockSkew);
        Assert.Equal("sub", o.Auth.Jwt.UserIdClaim);
        Assert.Equal("role", o.Auth.Jwt.RoleClaim);
    }

    [Fact]
    public void Mode_lists_its_values()
    {
        var error = OneError("Gateway:Auth:Mode", "Mandatory");
        Assert.Contains("None, Optional, Required", error);
    }

    [Fact]
    public void A_short_secret_is_a_startup_error_naming_the_key()
    {
        var error = OneError("Gateway:Auth:Jwt:Secret", "too-short");
        Assert.Contains("Gateway:Auth:Jwt:Secret must be at least 32 bytes", error);
        Assert.DoesNotContain("too-short", error); // a secret is never echoed, even a bad one
        Assert.Contains("Gateway:Auth:Jwt:Secret", OneError("Gateway:Auth:Jwt:Secret", "base64:%%%"));
    }

    [Fact]
    public void Key_files_must_load()
    {
        Assert.Contains("cannot be read", OneError("Gateway:Auth:Jwt:PublicKeyFile", "/nonexistent/key.pem"));
        Assert.Contains("no PEM RSA or EC public key", OneError("Gateway:Auth:Jwt:PublicKeyFile", AuthGateway.TempFile("hello")));
        using var rsa = RSA.Create(2048);
        Assert.Contains("private key", OneError("Gateway:Auth:Jwt:PublicKeyFile", AuthGateway.TempFile(rsa.ExportPkcs8PrivateKeyPem())));
        Assert.Empty(Errors(new() { ["Gateway:Auth:Jwt:PublicKeyFile"] = AuthGateway.TempFile(rsa.ExportSubjectPublicKeyInfoPem()) }));
        Assert.Contains("JSON Web Key Set", OneError("Gateway:Auth:Jwt:JwksFile", AuthGateway.TempFile("not json", ".json")));
        Assert.Contains("no usable signing key", OneError("Gateway:Auth:Jwt:JwksFile", AuthGateway.TempFile("{\"keys\":[]}", ".json")));
        Assert.Contains("cannot be read", OneError("Gateway:Auth:Jwt:JwksFile", "/nonexistent/jwks.json"));
    }

    [Fact]
    public void Names_urls_and_ranges_are_checked()
    {
        Assert.Contains("http:// or https://", OneError("Gateway:Auth:Jwt:JwksUrl", "ftp://idp/keys"));
        Assert.Contains("parameter name", OneError("Gateway:Auth:QueryParameter", "access token"));
        Assert.Contains("cookie name", OneError("Gateway:Auth:Cookie", "a;b"));
        Assert.Contains("between 0 and 1000000", OneError("Gateway:Auth:FailureLimit", "-1"));
        Assert.Contains("between 00:00:01 and 1.00:00:00", OneError("Gateway:Auth:FailureWindow", "00:00:00.500"));
        Assert.Contains("between 00:00:01 and 1.00:00:00", OneError("Gateway:Auth:Jwt:RefreshInterval", "00:00:00"));
        Assert.Contains("between 00:00:00 and 01:00:00", OneError("Gateway:Auth:Jwt:ClockSkew", "02:00:00"));
        Assert.Contains("between 256 and 65536", OneError("Gateway:Auth:MaxTokenBytes", "10"));
        Assert.Contains("must name a claim", OneError("Gateway:Auth:Jwt:UserIdClaim", " "));
        Assert.Contains("is not a configuration key", OneError("Gateway:Auth:Jwt:Secrets", "x"));
        Assert.Contains("a duration", OneError("Gateway:Auth:Jwt:ClockSkew", "30"));
    }

    [Fact]
    public async Task Required_mode_with_nothing_to_check_credentials_stops_startup()
    {
        var settings = AuthGateway.Defaults();
        settings.Remove("Gateway:Auth:Jwt:Secret");
        settings["Gateway:Plugins:Path"] = Path.Combine(Path.GetTempPath(), "gateway-auth-tests", "no-plugins-" + Guid.NewGuid().ToString("N"));
        await using var provider = AuthGateway.Build(settings, new LogCapture());
        var ex = Assert.Throws<GatewayConfigurationException>(() => provider.GetRequiredService<GatewayServer>());
        Assert.Contains("Gateway:Auth:Mode is Required", ex.Message);
        Assert.Contains("IConnectionAuthenticator", ex.Message);
    }

    [Fact]
    public async Task A_short_secret_stops_the_host_built_gateway()
    {
        var settings = AuthGateway.Defaults();
        settings["Gateway:Auth:Jwt:Secret"] = "short";
        settings["Gateway:Plugins:Path"] = Path.Combine(Path.GetTempPath(), "gateway-auth-tests", "no-plugins-" + Guid.NewGuid().ToString("N"));
        await using var provider = AuthGateway.Build(settings, new LogCapture());
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<GatewayServer>());
        Assert.Contains("Gateway:Auth:Jwt:Secret must be at least 32 bytes", ex.Message);
    }
}
