using System.Globalization;
using System.Net;
using Gateway.Tests.Shared;

namespace Gateway.Server.Tests;

/// <summary>/metrics of the real host, in a fresh process: what a dashboard sees right after a deploy.</summary>
public class HostMetricsTests
{
    [Fact]
    public async Task The_managed_heap_is_reported_right_after_start()
    {
        // A fresh process may not have collected yet; the heap figure must still be the heap in use, not 0.
        using var host = HostProcess.Start("--Gateway:Listen:0=127.0.0.1:0");
        int port = await host.BoundPortAsync(TimeSpan.FromSeconds(30));
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        int status = 0;
        while (DateTime.UtcNow < deadline && !host.HasExited && (status = await HostStartupTests.TryGetStatusAsync(endPoint, "/healthz")) != 200) await Task.Delay(10);
        Assert.True(status == 200, "host never answered /healthz\n" + host.Describe());

        await using var client = await RawClient.ConnectAsync(endPoint);
        await client.SendAsync("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        Assert.Equal(200, (await client.ReadHttpHeadAsync()).Status);
        string body = await client.ReadToEndAsync();

        long heap = Value(body, "dotnet_gc_heap_bytes");
        long workingSet = Value(body, "process_working_set_bytes");
        Assert.InRange(heap, 1, workingSet);
    }

    private static long Value(string metrics, string name)
    {
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal)) return long.Parse(line.AsSpan(name.Length + 1), CultureInfo.InvariantCulture);
        }
        throw new Xunit.Sdk.XunitException($"{name} missing from /metrics:\n{metrics}");
    }
}
