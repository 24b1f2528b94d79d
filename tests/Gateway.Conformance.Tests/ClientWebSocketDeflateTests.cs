using System.Net.WebSockets;
using Gateway.Server.Options;
using Gateway.Tests.Shared;

namespace Gateway.Conformance.Tests;

/// <summary>Interop with .NET's own permessage-deflate (ClientWebSocket, DangerousDeflateOptions: ManagedWebSocket's deflater).</summary>
public class ClientWebSocketDeflateTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    public static TheoryData<string, WebSocketDeflateOptions, Action<GatewayOptions>?> Cases() => new()
    {
        { "defaults both sides", new WebSocketDeflateOptions(), null },
        { "client asks for no context either way", new WebSocketDeflateOptions { ClientContextTakeover = false, ServerContextTakeover = false }, null },
        { "small windows", new WebSocketDeflateOptions { ClientMaxWindowBits = 9, ServerMaxWindowBits = 10 }, null },
        { "context takeover both ways", new WebSocketDeflateOptions(), o => { o.Compression.ServerContextTakeover = true; o.Compression.ClientContextTakeover = true; } },
        { "server window 11, client window 12 asked by the server", new WebSocketDeflateOptions(), o => { o.Compression.ServerMaxWindowBits = 11; o.Compression.ClientMaxWindowBits = 12; } },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Messages_round_trip_compressed(string name, WebSocketDeflateOptions deflate, Action<GatewayOptions>? configure)
    {
        _ = name;
        await using var gw = await TestGateway.StartAsync(configure);
        using var ws = new ClientWebSocket();
        ws.Options.DangerousDeflateOptions = deflate;
        ws.Options.CollectHttpResponseDetails = true;
        using var cts = new CancellationTokenSource(Timeout);
        await ws.ConnectAsync(gw.WebSocketUri(), cts.Token);
        Assert.True(ws.HttpResponseHeaders!.TryGetValue("Sec-WebSocket-Extensions", out var agreed), "no permessage-deflate in the answer");
        Assert.StartsWith("permessage-deflate", agreed.Single());

        var messages = new List<(WebSocketMessageType Type, byte[] Data)>();
        for (int i = 0; i < 20; i++) messages.Add((WebSocketMessageType.Text, DeflateWire.Json(i % 5 == 0 ? 40_000 : 1500, seed: i % 3)));
        messages.Add((WebSocketMessageType.Text, "tiny"u8.ToArray()));
        messages.Add((WebSocketMessageType.Binary, Wire.Payload(Wire.Binary, 5000, seed: 1)));
        messages.Add((WebSocketMessageType.Binary, new byte[300_000]));
        messages.Add((WebSocketMessageType.Text, []));

        var buffer = new byte[1 << 20];
        foreach (var (type, data) in messages)
        {
            await ws.SendAsync(data, type, WebSocketMessageFlags.EndOfMessage, cts.Token);
            int received = 0;
            ValueWebSocketReceiveResult r;
            do
            {
                r = await ws.ReceiveAsync(buffer.AsMemory(received), cts.Token);
                received += r.Count;
            } while (!r.EndOfMessage);
            Assert.Equal(type, r.MessageType);
            Wire.AssertBytes(data, buffer.AsSpan(0, received));
        }
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);

        var c = gw.Server.Metrics.Compression!;
        Assert.Equal(1, gw.Server.Metrics.CompressionNegotiations);
        Assert.True(c.MessagesInflated >= 20, $"{c.MessagesInflated} compressed messages received");
        Assert.True(c.MessagesCompressed >= 20, $"{c.MessagesCompressed} messages sent compressed");
        Assert.True(c.BytesAfterCompression * 3 < c.BytesBeforeCompression, $"{c.BytesBeforeCompression} bytes went out as {c.BytesAfterCompression}");
    }
}
