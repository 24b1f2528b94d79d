// Baseline (tuned): the gateway's JSON protocol for the sample's procedures (echo/echo, echo/count, $ping, $subscribe,
// chat/join, chat/send) on Kestrel + System.Net.WebSockets, written the way a strong .NET engineer writes it for
// throughput: a single writer per connection draining a lock-free queue into one write per batch, Utf8JsonReader/
// Utf8JsonWriter on pooled buffers, synchronous procedures answered on the receive loop without a Task, zero-byte
// receives while idle, events serialized once per publish. Design and trade-offs: ../README.md.
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Gateway.Baseline.KestrelTuned;
using Microsoft.AspNetCore.Http.Features;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSingleton<TopicTable>();
var app = builder.Build();
app.Map("/ws", (HttpContext context, TopicTable topics) => Handshake.AcceptAsync(context, topics));
// GC counts in the gateway's Prometheus names, so bench-compare reads every server's Gen0/Gen2 the same way.
app.MapGet("/metrics", () => Results.Text(GcMetrics.Prometheus(), "text/plain; version=0.0.4"));
app.Run();

namespace Gateway.Baseline.KestrelTuned
{
    /// <summary>
    /// The RFC 6455 upgrade done by hand (what UseWebSockets does) so that ManagedWebSocket can be created over our
    /// <see cref="BatchingStream"/> wrapped around Kestrel's upgraded stream, rather than over Kestrel's stream directly.
    /// </summary>
    public static class Handshake
    {
        private const string SubProtocol = "gateway.v1.json";
        private static readonly byte[] Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8.ToArray();

        public static async Task AcceptAsync(HttpContext context, TopicTable topics)
        {
            var upgrade = context.Features.Get<IHttpUpgradeFeature>();
            var headers = context.Request.Headers;
            string key = headers.SecWebSocketKey.ToString();
            if (upgrade is not { IsUpgradableRequest: true } || !HttpMethods.IsGet(context.Request.Method)
                || !headers.Upgrade.ToString().Equals("websocket", StringComparison.OrdinalIgnoreCase)
                || headers.SecWebSocketVersion.ToString() != "13" || !IsValidKey(key))
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }
            bool offered = false;
            foreach (var value in headers.SecWebSocketProtocol)
                foreach (var p in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                    offered |= p == SubProtocol;

            context.Response.Headers.Connection = "Upgrade";
            context.Response.Headers.Upgrade = "websocket";
            context.Response.Headers.SecWebSocketAccept = Accept(key);
            if (offered) context.Response.Headers.SecWebSocketProtocol = SubProtocol;
            var opaque = await upgrade.UpgradeAsync();

            var stream = new BatchingStream(opaque);
            using var ws = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
            {
                IsServer = true,
                SubProtocol = offered ? SubProtocol : null,
                KeepAliveInterval = TimeSpan.FromSeconds(15),
            });
            await new Connection(ws, stream, context, topics).RunAsync();
        }

        private static bool IsValidKey(string key)
        {
            Span<byte> decoded = stackalloc byte[24];
            return key.Length == 24 && Convert.TryFromBase64String(key, decoded, out int n) && n == 16;
        }

        private static string Accept(string key)
        {
            var bytes = new byte[key.Length + Guid.Length];
            Encoding.ASCII.GetBytes(key, bytes);
            Guid.CopyTo(bytes, key.Length);
            return Convert.ToBase64String(SHA1.HashData(bytes));
        }
    }

    public static class GcMetrics
    {
        public static string Prometheus()
        {
            var text = new StringBuilder("# TYPE dotnet_gc_collections_total counter\n");
            for (int g = 0; g <= GC.MaxGeneration; g++)
                text.Append("dotnet_gc_collections_total{generation=\"").Append(g).Append("\"} ").Append(GC.CollectionCount(g)).Append('\n');
            return text.ToString();
        }
    }
}
