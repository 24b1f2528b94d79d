using System.Globalization;
using System.Net;
using Gateway.Tests.Shared;

namespace Gateway.Policy.Tests;

/// <summary>Reads one value from the server's own GET /metrics, over a real socket, as a monitoring system would.</summary>
public static class MetricsScrape
{
    public static async Task<long> ReadAsync(IPEndPoint endPoint, string name)
    {
        await using var client = await RawClient.ConnectAsync(endPoint);
        await client.SendAsync("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        var (status, _) = await client.ReadHttpHeadAsync();
        if (status != 200) throw new InvalidOperationException($"/metrics answered {status}");
        var body = await client.ReadToEndAsync();
        foreach (var line in body.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(name.Length + 1), CultureInfo.InvariantCulture);
        }
        throw new InvalidOperationException($"/metrics has no {name}");
    }
}
