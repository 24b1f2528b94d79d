using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using Gateway.Tests.Shared;

namespace Gateway.Server.Tests;

/// <summary>
/// The "Gateway" meter (System.Diagnostics.Metrics, what OpenTelemetry exports) and /metrics are two views of one table:
/// a MeterListener sees an instrument for every gateway row, with the row's help as description, and the same values.
/// </summary>
public sealed class MeterTests
{
    /// <summary>Sample values of /metrics' text: "name" or "name{label=\"v\"}" → value.</summary>
    private static Dictionary<string, long> Samples(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#'))
            .Select(l => l.Split(' '))
            .ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture));

    [Fact]
    public async Task A_MeterListener_sees_every_gateway_figure_of_metrics_with_the_same_value()
    {
        await using var gw = await TestGateway.StartAsync();
        var metrics = gw.Server.Metrics;

        // Traffic, so most figures are not 0: echoed messages, an HTTP error, a protocol error (an unmasked frame: 1002).
        using (var ws = new ClientWebSocket())
        {
            await ws.ConnectAsync(gw.WebSocketUri(), CancellationToken.None);
            var buffer = new byte[64];
            for (int i = 0; i < 3; i++)
            {
                await ws.SendAsync(Encoding.UTF8.GetBytes("hello " + i), WebSocketMessageType.Text, true, CancellationToken.None);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await ws.ReceiveAsync(buffer, cts.Token);
            }
            using var close = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, null, close.Token);
        }
        await using (var raw = await RawClient.ConnectAsync(gw.EndPoint))
        {
            await raw.SendAsync("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
            Assert.Equal(404, (await raw.ReadHttpHeadAsync()).Status);
        }
        await using (var raw = await RawClient.OpenAsync(gw.EndPoint))
        {
            await raw.SendFrameAsync(1, "x"u8, mask: false);
            Assert.Equal(1002, await raw.ReadCloseAsync());
        }
        Assert.True(await Waits.WaitUntilAsync(() => metrics.ActiveConnections == 0), "every connection closed");

        // Both views of the quiet server.
        var text = Samples(metrics.ToPrometheus());
        var seen = new Dictionary<string, Instrument>();
        var measured = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (!ReferenceEquals(instrument.Meter, metrics.Meter)) return; // other tests' gateways run in this process too
            seen[instrument.Name] = instrument;
            l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string labels = tags.Length == 0 ? "" : "{" + string.Join(",", tags.ToArray().Select(t => $"{t.Key}=\"{t.Value}\"")) + "}";
            measured[instrument.Name + labels] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(GatewayMetrics.MeterName, metrics.Meter.Name);
        int compared = 0, nonZero = 0;
        foreach (var row in metrics.Definitions)
        {
            if (row.InstrumentName is null)
            {
                // The runtime's figures: exported from the runtime's own "System.Runtime" meter instead (GatewayTelemetry).
                Assert.True(row.Name.StartsWith("dotnet_", StringComparison.Ordinal) || row.Name.StartsWith("process_", StringComparison.Ordinal), row.Name);
                continue;
            }
            Assert.True(seen.TryGetValue(row.InstrumentName, out var instrument), $"no instrument {row.InstrumentName} for {row.Name}");
            Assert.Equal(row.Help, instrument.Description);
            Assert.Equal(row.Name.Contains("_bytes", StringComparison.Ordinal) ? "By" : null, instrument.Unit);
            Assert.Equal(row.Kind == MetricKind.Counter, instrument is ObservableCounter<long>);
            var rows = text.Where(kv => kv.Key == row.Name || kv.Key.StartsWith(row.Name + "{", StringComparison.Ordinal)).ToList();
            if (rows.Count == 0)
            {
                // A labelled family with no series yet (gateway_rpc_calls_total before its procedure is called): the meter
                // must not report one either.
                Assert.DoesNotContain(measured.Keys, k => k == row.InstrumentName || k.StartsWith(row.InstrumentName + "{", StringComparison.Ordinal));
                continue;
            }
            foreach (var (key, value) in rows)
            {
                string instrumentKey = row.InstrumentName + key[row.Name.Length..];
                Assert.True(measured.TryGetValue(instrumentKey, out long m), $"{instrumentKey} not measured (for {key}); measured: {string.Join(", ", measured.Keys)}");
                Assert.True(value == m, $"{key} is {value} on /metrics but {m} on the meter");
                compared++;
                if (value != 0) nonZero++;
            }
        }
        // Nothing on the meter that /metrics does not show.
        Assert.Equal(metrics.Definitions.Where(d => d.InstrumentName is not null).Select(d => d.InstrumentName!).Order(), seen.Keys.Order());
        Assert.True(text["gateway_messages_received_total"] >= 3 && text["gateway_protocol_errors_total{code=\"1002\"}"] == 1 && text["gateway_handshakes_rejected_total"] >= 1,
            string.Join("\n", text.Select(kv => kv.Key + " " + kv.Value)));
        Assert.True(nonZero >= 8, $"{nonZero} of {compared} figures were not 0");
    }
}
