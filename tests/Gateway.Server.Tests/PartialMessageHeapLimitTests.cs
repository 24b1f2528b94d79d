using System.Globalization;
using System.Net;
using Gateway.Tests.Shared;

namespace Gateway.Server.Tests;

/// <summary>
/// Issue 10, finding 3, as it was found: the real host under a container-like heap limit, and hundreds of connections
/// that each send a frame head declaring 1 MiB and then stall. Memory used to be reserved from the declared length
/// (OutOfMemoryException, 1011 closes, /metrics failing); now each holds what it sent, and everyone else is served.
/// </summary>
public class PartialMessageHeapLimitTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact(Timeout = 120_000)]
    public async Task Stalled_1_MiB_frame_heads_under_a_128_MiB_heap_limit_hold_only_what_they_sent_and_the_host_keeps_serving()
    {
        const int N = 300;
        using var host = HostProcess.Start(
            new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x8000000" }, // 128 MiB: 300 declared MiB cannot fit
            "--Gateway:Listen:0=127.0.0.1:0", "--Gateway:EchoPath=/echo");
        int port = await host.BoundPortAsync(Timeout);
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline && !host.HasExited && await HostStartupTests.TryGetStatusAsync(endPoint, "/healthz") != 200) await Task.Delay(10);

        await using var neighbour = await RawClient.OpenAsync(endPoint, "/echo");
        await EchoAsync(neighbour, "before");

        // A 15-byte head: 2 bytes, a 64-bit length of 1 MiB, the mask, and one payload byte.
        var head = RawClient.Frame(2, new byte[1 << 20]).AsMemory(0, 15);
        var stalled = new List<RawClient>();
        try
        {
            for (int i = 0; i < N; i++)
            {
                var c = await RawClient.OpenAsync(endPoint, "/echo");
                stalled.Add(c);
                await c.SendAsync(head);
            }
            // Each reader holds its 256-byte floor once its byte has arrived.
            long held = 0;
            while (DateTime.UtcNow < deadline && !host.HasExited && (held = await ScrapeAsync(endPoint, "gateway_partial_message_bytes")) < N * 256L) await Task.Delay(20);
            Assert.True(held == N * 256L, $"held {held} bytes of incomplete messages for {N} one-byte payloads\n{host.Describe()}");
            await EchoAsync(neighbour, "during");
            Assert.True(await ScrapeAsync(endPoint, "gateway_connections_active") >= N + 1, host.Describe());
        }
        finally
        {
            foreach (var c in stalled) await c.DisposeAsync();
        }
        await EchoAsync(neighbour, "after");
        Assert.False(host.HasExited, host.Describe());
        Assert.DoesNotContain("OutOfMemory", host.StdOut + host.StdErr);
    }

    private static async Task EchoAsync(RawClient client, string text)
    {
        await client.SendTextAsync(text);
        var frame = await client.ReadFrameAsync(Timeout);
        Assert.Equal(1, frame.Opcode);
        Assert.Equal(text, frame.Text);
    }

    private static async Task<long> ScrapeAsync(IPEndPoint endPoint, string name)
    {
        await using var client = await RawClient.ConnectAsync(endPoint);
        await client.SendAsync("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        var (status, _) = await client.ReadHttpHeadAsync(Timeout);
        Assert.Equal(200, status);
        foreach (var line in (await client.ReadToEndAsync(Timeout)).Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal)) return long.Parse(line.AsSpan(name.Length + 1), CultureInfo.InvariantCulture);
        }
        throw new InvalidOperationException($"/metrics has no {name}");
    }
}
