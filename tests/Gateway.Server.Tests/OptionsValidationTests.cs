using System.Net;
using System.Net.Sockets;
using Gateway.Server.Options;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Configuration;

namespace Gateway.Server.Tests;

public class OptionsValidationTests
{
    private static List<string> Errors(Action<GatewayOptions> configure)
    {
        var o = new GatewayOptions();
        configure(o);
        return GatewayOptionsValidator.Collect(o);
    }

    /// <summary>Exactly one message, naming <paramref name="key"/> and containing every fragment (the allowed range, the value found).</summary>
    private static string AssertSingleError(List<string> errors, string key, params string[] fragments)
    {
        var error = Assert.Single(errors);
        Assert.StartsWith(key + " ", error);
        foreach (var f in fragments) Assert.Contains(f, error);
        return error;
    }

    [Fact]
    public void Defaults_are_valid()
    {
        Assert.Empty(GatewayOptionsValidator.Collect(new GatewayOptions()));
        Assert.Equal(new[] { "0.0.0.0:8080" }, new GatewayOptions().EffectiveListen);
    }

    [Fact]
    public void The_IValidateOptions_adapter_reports_the_same_failures()
    {
        var validator = new GatewayOptionsValidator();
        Assert.True(validator.Validate(null, new GatewayOptions()).Succeeded);
        var bad = new GatewayOptions();
        bad.Limits.MaxMessageBytes = 10;
        var result = validator.Validate(null, bad);
        Assert.True(result.Failed);
        Assert.Contains("Gateway:Limits:MaxMessageBytes", result.FailureMessage);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(int.MaxValue)]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(124)]
    [InlineData((1 << 30) + 1)]
    public void MaxMessageBytes_out_of_range_names_the_key_and_the_range(int value)
    {
        AssertSingleError(Errors(o => o.Limits.MaxMessageBytes = value), "Gateway:Limits:MaxMessageBytes",
            "between 125 and 1073741824", $"(got {value})");
    }

    [Theory]
    [InlineData(125)]
    [InlineData(1 << 30)]
    public void MaxMessageBytes_bounds_are_inclusive(int value) => Assert.Empty(Errors(o => o.Limits.MaxMessageBytes = value));

    [Fact]
    public void MaxHeaderBytes_zero_names_the_key_and_the_range()
    {
        AssertSingleError(Errors(o => o.Limits.MaxHeaderBytes = 0), "Gateway:Limits:MaxHeaderBytes", "between 256 and 1048576", "(got 0)");
    }

    [Fact]
    public void MaxHeaderCount_out_of_range_names_the_key_and_the_range()
    {
        AssertSingleError(Errors(o => o.Limits.MaxHeaderCount = 1001), "Gateway:Limits:MaxHeaderCount", "between 4 and 1000", "(got 1001)");
    }

    [Fact]
    public void Handshake_timeout_of_zero_names_the_key_and_the_range()
    {
        AssertSingleError(Errors(o => o.Timeouts.Handshake = TimeSpan.Zero), "Gateway:Timeouts:Handshake",
            "between 00:00:00.1000000 and 00:10:00", "(got 00:00:00)");
    }

    [Fact]
    public void Close_and_heartbeat_timeouts_are_range_checked()
    {
        AssertSingleError(Errors(o => o.Timeouts.Close = TimeSpan.FromHours(1)), "Gateway:Timeouts:Close", "between 00:00:00.1000000 and 00:10:00");
        AssertSingleError(Errors(o => o.Timeouts.HeartbeatResolution = TimeSpan.FromMilliseconds(1)), "Gateway:Timeouts:HeartbeatResolution", "between 00:00:00.0100000 and 00:00:10");
    }

    [Theory]
    [InlineData("abc", "expected HOST:PORT")]
    [InlineData("1.2.3.4:99999", "port must be a number from 0 to 65535")]
    [InlineData("host:80", "'host' is not an IP address, '*' or 'localhost'")]
    [InlineData(":80", "expected HOST:PORT")]
    [InlineData("1.2.3.4:", "expected HOST:PORT")]
    [InlineData("1.2.3.4:-1", "port must be a number from 0 to 65535")]
    [InlineData("1.2.3.4:http", "port must be a number from 0 to 65535")]
    public void Bad_listen_entries_name_the_key_index_and_the_expected_form(string entry, string expected)
    {
        var error = AssertSingleError(Errors(o => o.Listen = [entry]), "Gateway:Listen:0", expected);
        Assert.Contains($"'{entry}'", error);
    }

    [Fact]
    public void A_bad_listen_entry_is_reported_with_its_own_index()
    {
        var errors = Errors(o => o.Listen = ["127.0.0.1:8080", "[::1]:8080", "nope"]);
        AssertSingleError(errors, "Gateway:Listen:2", "'nope'");
    }

    [Theory]
    [InlineData("ws")]
    [InlineData("ws/")]
    [InlineData("/w s")]
    [InlineData("/ws?x=1")]
    [InlineData("/ws#frag")]
    public void WebSocketPath_must_be_an_absolute_path(string path)
    {
        AssertSingleError(Errors(o => o.WebSocketPath = path), "Gateway:WebSocketPath", "must be an absolute path", $"(got '{path}')");
    }

    [Fact]
    public void WebSocketPath_is_required()
    {
        AssertSingleError(Errors(o => o.WebSocketPath = ""), "Gateway:WebSocketPath", "required");
    }

    [Fact]
    public void EchoPath_without_a_slash_is_rejected()
    {
        AssertSingleError(Errors(o => o.EchoPath = "echo"), "Gateway:EchoPath", "must be an absolute path", "(got 'echo')");
    }

    [Fact]
    public void EchoPath_equal_to_WebSocketPath_is_rejected()
    {
        AssertSingleError(Errors(o => { o.WebSocketPath = "/same"; o.EchoPath = "/same"; }), "Gateway:EchoPath",
            "must differ from Gateway:WebSocketPath", "'/same'");
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    [InlineData("/metrics")]
    public void Reserved_paths_cannot_be_endpoints(string path)
    {
        AssertSingleError(Errors(o => o.WebSocketPath = path), "Gateway:WebSocketPath", $"reserved path '{path}'");
        AssertSingleError(Errors(o => o.EchoPath = path), "Gateway:EchoPath", $"reserved path '{path}'");
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var errors = Errors(o =>
        {
            o.Listen = ["abc"];
            o.WebSocketPath = "ws";
            o.Limits.MaxMessageBytes = 10;
            o.Limits.MaxHeaderBytes = 0;
            o.Timeouts.Handshake = TimeSpan.Zero;
        });
        Assert.Equal(5, errors.Count);
        foreach (var key in new[] { "Gateway:Listen:0", "Gateway:WebSocketPath", "Gateway:Limits:MaxMessageBytes", "Gateway:Limits:MaxHeaderBytes", "Gateway:Timeouts:Handshake" })
            Assert.Contains(errors, e => e.StartsWith(key + " ", StringComparison.Ordinal));
    }

    [Fact]
    public void GatewayServer_refuses_invalid_options()
    {
        var o = new GatewayOptions();
        o.Limits.MaxMessageBytes = 10;
        var ex = Assert.Throws<ArgumentException>(() => new GatewayServer(o, new Dictionary<string, IWebSocketApplication>()));
        Assert.Contains("Gateway:Limits:MaxMessageBytes", ex.Message);
    }

    /// <summary>The "Gateway" section of a configuration holding <paramref name="pairs"/> (keys without the "Gateway:" prefix), read as the host reads it.</summary>
    private static (GatewayOptions Options, List<string> Errors) Read(params (string Key, string Value)[] pairs)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(pairs.Select(p => new KeyValuePair<string, string?>("Gateway:" + p.Key, p.Value)))
            .Build();
        var options = new GatewayOptions();
        // As the host reads it: with the Redis backplane's section registered (Gateway.Backplane.Redis).
        return (options, GatewayConfigurationReader.Bind(configuration.GetSection(GatewayOptions.SectionName), options,
            [new Gateway.Backplane.Redis.RedisBackplaneOptionsSection()]));
    }

    [Fact]
    public void A_clean_section_binds_with_no_errors()
    {
        var (o, errors) = Read(("Limits:MaxMessageBytes", "2048"), ("Timeouts:Handshake", "00:00:02"), ("Limits:SlowConsumerPolicy", "close"),
            ("Listen:0", "127.0.0.1:0"), ("RateLimits:Procedures:echo/echo:PermitsPerSecond", "1.5"), ("Backplane:Type", "Redis"));
        Assert.Empty(errors);
        Assert.Equal(2048, o.Limits.MaxMessageBytes);
        Assert.Equal(TimeSpan.FromSeconds(2), o.Timeouts.Handshake);
        Assert.Equal(SlowConsumerPolicy.Close, o.Limits.SlowConsumerPolicy);
        Assert.Equal(["127.0.0.1:0"], o.Listen!);
        Assert.Equal(1.5, o.RateLimits.Procedures["echo/echo"].PermitsPerSecond);
        Assert.Equal(BackplaneType.Redis, o.Backplane.Type);
    }

    [Fact]
    public void An_unknown_key_is_named_by_its_full_path_with_the_keys_allowed_there()
    {
        var (_, errors) = Read(("Limits:MaxMessageByte", "5"));
        var error = AssertSingleError(errors, "Gateway:Limits:MaxMessageByte", "is not a configuration key", "MaxMessageBytes", "SlowConsumerPolicy");
        Assert.DoesNotContain("LimitsOptions", error);
        AssertSingleError(Read(("Nope", "1")).Errors, "Gateway:Nope", "is not a configuration key", "Listen", "Backplane");
        AssertSingleError(Read(("Backplane:Redis:Host", "x")).Errors, "Gateway:Backplane:Redis:Host", "Configuration, ChannelPrefix");
    }

    [Theory]
    [InlineData("Limits:SlowConsumerPolicy", "DropOldest", "Gateway:Limits:SlowConsumerPolicy", "one of DropNewest, Close")]
    [InlineData("Limits:SlowConsumerPolicy", "1", "Gateway:Limits:SlowConsumerPolicy", "one of DropNewest, Close")]
    [InlineData("Backplane:Type", "Kafka", "Gateway:Backplane:Type", "one of InMemory, Redis")]
    public void A_bad_enum_lists_the_allowed_values(string key, string value, string path, string allowed)
    {
        AssertSingleError(Read((key, value)).Errors, path, allowed, $"(got '{value}')");
    }

    [Theory]
    [InlineData("10")]
    [InlineData("0.5")]
    [InlineData("10s")]
    public void A_duration_that_is_not_hh_mm_ss_is_refused_with_the_format_and_the_range(string value)
    {
        // TimeSpan.Parse("10") is ten days: the binder would have bound it and the range check said "(got 10.00:00:00)".
        AssertSingleError(Read(("Timeouts:Handshake", value)).Errors, "Gateway:Timeouts:Handshake",
            "hh:mm:ss", "between 00:00:00.1000000 and 00:10:00", $"(got '{value}')");
    }

    [Fact]
    public void A_value_of_the_wrong_type_names_the_key_the_type_and_the_range()
    {
        AssertSingleError(Read(("Limits:MaxMessageBytes", "abc")).Errors, "Gateway:Limits:MaxMessageBytes",
            "a whole number", "between 125 and 1073741824", "(got 'abc')");
        AssertSingleError(Read(("Timeouts:Idle", "soon")).Errors, "Gateway:Timeouts:Idle", "hh:mm:ss", "00:00:00 (off)", "(got 'soon')");
        AssertSingleError(Read(("RateLimits:PerConnection:Burst", "many")).Errors, "Gateway:RateLimits:PerConnection:Burst", "between 1 and 1000000");
    }

    [Fact]
    public void A_list_given_as_one_value_and_a_value_given_as_a_section_are_refused()
    {
        AssertSingleError(Read(("Listen", "127.0.0.1:0")).Errors, "Gateway:Listen", "a list", "Gateway:Listen:0");
        AssertSingleError(Read(("Limits", "5")).Errors, "Gateway:Limits", "a section");
        AssertSingleError(Read(("WebSocketPath:x", "/ws")).Errors, "Gateway:WebSocketPath", "a single value");
    }

    [Fact]
    public void Format_errors_and_range_errors_are_reported_together()
    {
        var (_, errors) = Read(("Limits:MaxMesageBytes", "1"), ("Timeouts:Close", "5"), ("Limits:MaxHeaderBytes", "1"));
        Assert.Equal(3, errors.Count);
        foreach (var key in new[] { "Gateway:Limits:MaxMesageBytes", "Gateway:Timeouts:Close", "Gateway:Limits:MaxHeaderBytes" })
            Assert.Contains(errors, e => e.StartsWith(key + " ", StringComparison.Ordinal));
    }

    [Fact]
    public void ListenAddress_parses_an_IPv4_any_address()
    {
        Assert.True(ListenAddress.TryParse("0.0.0.0:8080", out var eps, out var error));
        Assert.Null(error);
        Assert.Equal(new[] { new IPEndPoint(IPAddress.Any, 8080) }, eps);
    }

    [Fact]
    public void ListenAddress_parses_a_bracketed_IPv6_address()
    {
        Assert.True(ListenAddress.TryParse("[::]:8080", out var eps, out _));
        Assert.Equal(new[] { new IPEndPoint(IPAddress.IPv6Any, 8080) }, eps);
        Assert.True(ListenAddress.TryParse("[::1]:9000", out eps, out _));
        Assert.Equal(new[] { new IPEndPoint(IPAddress.IPv6Loopback, 9000) }, eps);
    }

    [Fact]
    public void ListenAddress_star_means_every_interface_on_IPv6_any()
    {
        Assert.True(ListenAddress.TryParse("*:8080", out var eps, out _));
        Assert.Equal(new[] { new IPEndPoint(IPAddress.IPv6Any, 8080) }, eps);
    }

    [Fact]
    public void ListenAddress_localhost_is_both_loopbacks()
    {
        Assert.True(ListenAddress.TryParse("localhost:8080", out var eps, out _));
        IPEndPoint[] expected = ListenAddress.IPv6LoopbackUsable
            ? [new IPEndPoint(IPAddress.Loopback, 8080), new IPEndPoint(IPAddress.IPv6Loopback, 8080)]
            : [new IPEndPoint(IPAddress.Loopback, 8080)];
        Assert.Equal(expected, eps);
        Assert.True(ListenAddress.TryParse("LocalHost:8080", out _, out _));
    }

    [Fact]
    public void ListenAddress_accepts_port_zero_and_surrounding_spaces()
    {
        Assert.True(ListenAddress.TryParse("127.0.0.1:0", out var eps, out _));
        Assert.Equal(new[] { new IPEndPoint(IPAddress.Loopback, 0) }, eps);
        Assert.True(ListenAddress.TryParse(" 127.0.0.1:65535 ", out eps, out _));
        Assert.Equal(new[] { new IPEndPoint(IPAddress.Loopback, 65535) }, eps);
    }
}
