using System.Net.WebSockets;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests.Push;

/// <summary>
/// permessage-deflate and topic fan-out: subscribers without server context takeover share one compressed copy of a
/// publish (compressed once, whatever their number); subscribers with context takeover compress their own, and
/// uncompressed subscribers get the plain frame. Everyone receives the same event.
/// </summary>
public sealed class CompressedFanOutTests
{
    [Fact]
    public async Task A_publish_is_compressed_once_for_all_subscribers_without_context_takeover()
    {
        await using var gateway = await PushKit.StartAsync(new Dictionary<string, string?> { ["Gateway:Compression:ServerContextTakeover"] = "true" });
        string topic = PushKit.Room();
        var shared = new List<RpcClient>();
        var own = new List<RpcClient>();
        var plain = new List<RpcClient>();
        try
        {
            // The gateway allows context takeover; these clients ask for none, so they get the shared copy.
            for (int i = 0; i < 12; i++)
                shared.Add(await gateway.ConnectAsync(o => o.DangerousDeflateOptions = new WebSocketDeflateOptions { ServerContextTakeover = false }));
            for (int i = 0; i < 3; i++)
                own.Add(await gateway.ConnectAsync(o => o.DangerousDeflateOptions = new WebSocketDeflateOptions { ServerContextTakeover = true }));
            for (int i = 0; i < 2; i++) plain.Add(await gateway.ConnectAsync());
            var everyone = shared.Concat(own).Concat(plain).ToList();
            foreach (var c in everyone) await c.SubscribeAsync(topic);
            await using var publisher = await gateway.ConnectAsync();

            var deflate = gateway.Metrics().Compression!;
            long sharedBefore = deflate.SharedFramesCompressed, sentBefore = deflate.MessagesCompressed;
            var data = new { text = string.Concat(Enumerable.Range(0, 60).Select(i => $"item {i % 9} of the price list; ")) };
            for (int n = 0; n < 3; n++)
            {
                await publisher.PublishAsync(topic, data);
                foreach (var c in everyone) await c.ExpectEventAsync("test.event", topic, data);
            }

            Assert.Equal(3, deflate.SharedFramesCompressed - sharedBefore);
            Assert.Equal(3 * (shared.Count + own.Count), deflate.MessagesCompressed - sentBefore);
            // Only the context-takeover connections own a deflater; the twelve others borrowed none of their own.
            Assert.True(deflate.DeflatersCreated <= own.Count + Environment.ProcessorCount * 2 + 2, $"{deflate.DeflatersCreated} deflaters created");
        }
        finally
        {
            foreach (var c in shared.Concat(own).Concat(plain)) await c.DisposeAsync();
        }
    }
}
