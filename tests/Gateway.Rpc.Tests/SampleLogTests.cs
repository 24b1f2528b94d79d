using Gateway.Rpc.Tests.Infrastructure;
using Gateway.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Rpc.Tests;

/// <summary>The sample's echo/log models logging untrusted client text: bounded level, length, characters and rate.</summary>
public sealed class SampleLogTests
{
    [Fact]
    public async Task A_flood_of_echo_log_at_Critical_writes_bounded_Information_lines()
    {
        var logs = new LogCapture();
        var folder = new PluginFolder(Plugins.Standard);
        await using var gateway = await RpcGateway.StartAsync(folder, RpcGateway.Settings(folder.PluginsPath),
            before: services => services.AddSingleton<ILoggerProvider>(logs));
        await using var client = await gateway.ConnectAsync();
        long start = Environment.TickCount64 / 1000;
        const int flood = 1_000;
        string forged = "hi\n[1] admin logged in\r\n" + new string('x', 5_000);
        for (int i = 0; i < flood; i++) await client.SendNotificationAsync("echo/log", new { level = "critical", message = forged });
        // Notifications run in order on the read loop, before the ping is answered.
        await client.PingAsync();
        long windows = Environment.TickCount64 / 1000 - start + 1;

        var lines = logs.With("client says:");
        Assert.InRange(lines.Count, 1, 10 * windows);
        Assert.All(lines, l =>
        {
            Assert.Equal(LogLevel.Information, l.Level);
            Assert.DoesNotContain('\n', l.Message);
            Assert.DoesNotContain('\r', l.Message);
            Assert.True(l.Message.Length < 300, $"{l.Message.Length} characters");
        });
        // One more message in a later second: the sample reports what it skipped, so written + reported == sent.
        long last = Environment.TickCount64 / 1000;
        Assert.True(await Waits.WaitUntilAsync(() => Environment.TickCount64 / 1000 > last, TimeSpan.FromSeconds(3)));
        await client.SendNotificationAsync("echo/log", new { message = "after" });
        await client.PingAsync();
        long reported = logs.With("echo/log messages were not logged (over 10 per second)")
            .Sum(l => long.Parse(l.Message.AsSpan(0, l.Message.IndexOf(' ')), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(flood + 1, logs.With("client says:").Count + reported);
        Assert.Contains(logs.With("client says:"), l => l.Message.EndsWith("client says: after", StringComparison.Ordinal));
    }
}
