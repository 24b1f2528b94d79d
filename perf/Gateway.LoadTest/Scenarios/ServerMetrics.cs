using System.Globalization;
using Gateway.LoadTest.Net;

namespace Gateway.LoadTest.Scenarios;

/// <summary>
/// Reads a few counters from the gateway's Prometheus endpoint (<c>GET /metrics</c> on the same loopback
/// port as the WebSocket endpoint). Best effort: null when the server has no such endpoint (a baseline).
/// </summary>
public static class ServerMetrics
{
    public const string EventsPublished = "gateway_events_published_total";
    public const string EventsDelivered = "gateway_events_delivered_total";
    public const string SlowConsumerDrops = "gateway_slow_consumer_dropped_frames_total";
    public const string SlowConsumerCloses = "gateway_slow_consumer_closes_total";
    public const string MessagesSent = "gateway_messages_sent_total";

    public static Uri Url(ConnectTarget target) => new UriBuilder("http", target.Url.Host, target.EndPoint.Port, "/metrics").Uri;

    /// <summary>The counters named in <paramref name="names"/> (unlabelled series only), or null when /metrics could not be read or has none of them.</summary>
    public static async Task<Dictionary<string, double>?> ReadAsync(ConnectTarget target, IReadOnlyCollection<string> names, CancellationToken ct)
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
            using var response = await http.GetAsync(Url(target), ct);
            if (!response.IsSuccessStatusCode) return null;
            string text = await response.Content.ReadAsStringAsync(ct);
            var values = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var line in text.Split('\n'))
            {
                if (line.Length == 0 || line[0] == '#') continue;
                int space = line.IndexOf(' ');
                if (space <= 0) continue;
                string name = line[..space];
                if (names.Contains(name) && double.TryParse(line[(space + 1)..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                    values[name] = v;
            }
            // A server with a /metrics of its own but none of these counters (a baseline's GC-only page) has no figures.
            return values.Count > 0 ? values : null;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            return null;
        }
    }
}
