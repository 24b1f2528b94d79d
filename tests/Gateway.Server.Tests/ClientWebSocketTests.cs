using static Gateway.Tests.Shared.Waits;
using System.Net.WebSockets;
using System.Text;
using Gateway.Tests.Shared;
using static Gateway.Server.Tests.TestHelpers;

namespace Gateway.Server.Tests;

/// <summary>The .NET ClientWebSocket (an independent RFC 6455 implementation) against the real server's echo endpoint.</summary>
public class ClientWebSocketTests
{
    private static readonly TimeSpan LargeTimeout = TimeSpan.FromSeconds(30);

    public static TheoryData<WebSocketMessageType, int> EchoCases()
    {
        var data = new TheoryData<WebSocketMessageType, int>();
        foreach (var type in new[] { WebSocketMessageType.Text, WebSocketMessageType.Binary })
        {
            foreach (int size in new[] { 0, 1024, 64 * 1024, 1024 * 1024, 16 * 1024 * 1024 }) data.Add(type, size);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(EchoCases))]
    public async Task Echoes_a_message_byte_exact(WebSocketMessageType type, int size)
    {
        await using var gw = await TestGateway.StartAsync(o => o.Limits.MaxMessageBytes = 32 * 1024 * 1024);
        using var ws = await ConnectAsync(gw.WebSocketUri());
        byte[] payload = type == WebSocketMessageType.Text ? RandomUtf8(size, seed: size + 1) : RandomBytes(size, seed: size + 2);

        using (var cts = new CancellationTokenSource(LargeTimeout))
        {
            // Send and receive concurrently: a 16 MiB echo does not fit in the socket buffers of either side.
            var send = ws.SendAsync(payload, type, endOfMessage: true, cts.Token);
            var (receivedType, received) = await ReceiveMessageAsync(ws, LargeTimeout, initialCapacity: size + 1);
            await send;
            Assert.Equal(type, receivedType);
            Assert.Equal(payload.Length, received.Length);
            Assert.True(payload.AsSpan().SequenceEqual(received), $"echo of {size} {type} bytes differs");
        }

        await CloseNormallyAsync(ws);
    }

    [Fact]
    public async Task Echoes_many_messages_in_order()
    {
        await using var gw = await TestGateway.StartAsync();
        using var ws = await ConnectAsync(gw.WebSocketUri());
        const int Count = 500;
        var rng = new Random(42);
        var messages = new List<(WebSocketMessageType Type, byte[] Payload)>();
        for (int i = 0; i < Count; i++)
        {
            bool text = (i & 1) == 0;
            int size = rng.Next(0, 2048);
            messages.Add(text ? (WebSocketMessageType.Text, RandomUtf8(size, seed: 1000 + i)) : (WebSocketMessageType.Binary, RandomBytes(size, seed: 1000 + i)));
        }

        using var cts = new CancellationTokenSource(LargeTimeout);
        var sender = Task.Run(async () =>
        {
            foreach (var (type, payload) in messages) await ws.SendAsync(payload, type, endOfMessage: true, cts.Token);
        });
        for (int i = 0; i < Count; i++)
        {
            var (type, payload) = await ReceiveMessageAsync(ws, LargeTimeout);
            Assert.Equal(messages[i].Type, type);
            Assert.True(messages[i].Payload.AsSpan().SequenceEqual(payload), $"message #{i} differs or arrived out of order");
        }
        await sender;
        await CloseNormallyAsync(ws);
    }

    [Theory]
    [InlineData(WebSocketMessageType.Text)]
    [InlineData(WebSocketMessageType.Binary)]
    public async Task A_message_sent_in_fragments_echoes_whole(WebSocketMessageType type)
    {
        await using var gw = await TestGateway.StartAsync();
        using var ws = await ConnectAsync(gw.WebSocketUri());
        // Fragment boundaries fall inside multi-byte characters for the text case (RandomUtf8 mixes 1-4 byte runes).
        byte[] payload = type == WebSocketMessageType.Text ? RandomUtf8(10_000, seed: 7) : RandomBytes(10_000, seed: 7);
        int[] cuts = [0, 1, 4099, 4100, 9_999, 10_000];

        using var cts = new CancellationTokenSource(DefaultTimeout);
        for (int i = 0; i + 1 < cuts.Length; i++)
        {
            bool last = i + 2 == cuts.Length;
            await ws.SendAsync(payload.AsMemory(cuts[i], cuts[i + 1] - cuts[i]), type, endOfMessage: last, cts.Token);
        }
        var (receivedType, received) = await ReceiveMessageAsync(ws);
        Assert.Equal(type, receivedType);
        Assert.True(payload.AsSpan().SequenceEqual(received), "reassembled echo differs");

        // The connection stays usable after a fragmented message.
        await ws.SendAsync("after"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, cts.Token);
        var (_, after) = await ReceiveMessageAsync(ws);
        Assert.Equal("after", Encoding.UTF8.GetString(after));
        await CloseNormallyAsync(ws);
    }

    [Fact]
    public async Task Client_close_completes_with_normal_closure()
    {
        await using var gw = await TestGateway.StartAsync();
        using var ws = await ConnectAsync(gw.WebSocketUri());
        using var cts = new CancellationTokenSource(DefaultTimeout);
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
        Assert.Equal(WebSocketState.Closed, ws.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, ws.CloseStatus);
        Assert.True(await WaitUntilAsync(() => gw.Server.ConnectionCount == 0), "server still holds the connection after a normal close");
    }

    [Fact]
    public async Task Negotiates_the_json_subprotocol()
    {
        await using var gw = await TestGateway.StartAsync();
        using var ws = await ConnectAsync(gw.WebSocketUri(), o => o.AddSubProtocol("gateway.v1.json"));
        Assert.Equal("gateway.v1.json", ws.SubProtocol);

        using var cts = new CancellationTokenSource(DefaultTimeout);
        await ws.SendAsync("{\"ping\":1}"u8.ToArray(), WebSocketMessageType.Text, true, cts.Token);
        var (_, echo) = await ReceiveMessageAsync(ws);
        Assert.Equal("{\"ping\":1}", Encoding.UTF8.GetString(echo));
        await CloseNormallyAsync(ws);
    }

    [Fact]
    public async Task Picks_the_first_supported_offer_and_ignores_unknown_ones()
    {
        await using var gw = await TestGateway.StartAsync();
        using var ws = await ConnectAsync(gw.WebSocketUri(), o =>
        {
            o.AddSubProtocol("chat.v9");
            o.AddSubProtocol("gateway.v1.msgpack");
            o.AddSubProtocol("gateway.v1.json");
        });
        Assert.Equal("gateway.v1.msgpack", ws.SubProtocol);
        await CloseNormallyAsync(ws);
    }

    [Fact]
    public async Task Without_an_offer_no_subprotocol_is_chosen()
    {
        await using var gw = await TestGateway.StartAsync();
        using var ws = await ConnectAsync(gw.WebSocketUri());
        Assert.Null(ws.SubProtocol);
        await CloseNormallyAsync(ws);
    }

    [Fact]
    public async Task An_unsupported_subprotocol_is_refused()
    {
        await using var gw = await TestGateway.StartAsync();
        using var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("chat.v9");
        using var cts = new CancellationTokenSource(DefaultTimeout);
        await Assert.ThrowsAsync<WebSocketException>(() => ws.ConnectAsync(gw.WebSocketUri(), cts.Token));
    }

    [Fact]
    public async Task Oversize_message_is_closed_with_1009()
    {
        await using var gw = await TestGateway.StartAsync(o => o.Limits.MaxMessageBytes = 4096);
        using var ws = await ConnectAsync(gw.WebSocketUri());
        using var cts = new CancellationTokenSource(DefaultTimeout);

        // At the limit is fine...
        var atLimit = RandomBytes(4096, seed: 3);
        await ws.SendAsync(atLimit, WebSocketMessageType.Binary, true, cts.Token);
        var (_, echo) = await ReceiveMessageAsync(ws);
        Assert.True(atLimit.AsSpan().SequenceEqual(echo));

        // ...one byte more is not.
        await ws.SendAsync(RandomBytes(4097, seed: 4), WebSocketMessageType.Binary, true, cts.Token);
        var (type, _) = await ReceiveMessageAsync(ws);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, ws.CloseStatus);
        Assert.Equal(1009, (int)ws.CloseStatus!.Value);
    }

    [Fact]
    public async Task Oversize_fragmented_message_is_closed_with_1009()
    {
        await using var gw = await TestGateway.StartAsync(o => o.Limits.MaxMessageBytes = 4096);
        using var ws = await ConnectAsync(gw.WebSocketUri());
        using var cts = new CancellationTokenSource(DefaultTimeout);
        // Each fragment is small; together they exceed the limit.
        for (int i = 0; i < 3; i++)
            await ws.SendAsync(RandomBytes(2000, seed: 10 + i), WebSocketMessageType.Binary, endOfMessage: i == 2, cts.Token);
        var (type, _) = await ReceiveMessageAsync(ws);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, ws.CloseStatus);
    }

    [Fact]
    public async Task Many_concurrent_clients_get_their_own_echoes_and_the_server_ends_with_no_connections()
    {
        await using var gw = await TestGateway.StartAsync();
        const int Clients = 50, Messages = 20;

        async Task RunClientAsync(int id)
        {
            using var ws = await ConnectAsync(gw.WebSocketUri(), timeout: TimeSpan.FromSeconds(20));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            for (int i = 0; i < Messages; i++)
            {
                bool text = ((id + i) & 1) == 0;
                byte[] payload = text
                    ? Encoding.UTF8.GetBytes($"client {id} message {i} — ünïcødé ✓ 🚀 ").Concat(RandomUtf8(i * 37, seed: id * 100 + i)).ToArray()
                    : RandomBytes(16 + i * 97, seed: id * 100 + i);
                var type = text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
                await ws.SendAsync(payload, type, true, cts.Token);
                var (receivedType, received) = await ReceiveMessageAsync(ws, TimeSpan.FromSeconds(20));
                Assert.Equal(type, receivedType);
                Assert.True(payload.AsSpan().SequenceEqual(received), $"client {id} message {i}: got someone else's or a corrupted echo");
            }
            await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
            Assert.Equal(WebSocketCloseStatus.NormalClosure, ws.CloseStatus);
        }

        await Task.WhenAll(Enumerable.Range(0, Clients).Select(id => Task.Run(() => RunClientAsync(id))));
        Assert.True(await WaitUntilAsync(() => gw.Server.ConnectionCount == 0, TimeSpan.FromSeconds(10)),
            $"ConnectionCount is still {gw.Server.ConnectionCount} after every client closed");
        // The gauge is decremented just after the registry entry goes, so it gets its own bounded wait.
        Assert.True(await WaitUntilAsync(() => gw.Server.Metrics.ActiveConnections == 0, TimeSpan.FromSeconds(10)),
            $"ActiveConnections is still {gw.Server.Metrics.ActiveConnections} after every client closed");
    }

    internal static async Task CloseNormallyAsync(ClientWebSocket ws)
    {
        using var cts = new CancellationTokenSource(DefaultTimeout);
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, ws.CloseStatus);
    }
}
