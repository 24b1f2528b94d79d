using Gateway.Protocol.Compression;
using Gateway.Protocol.Http;
using Gateway.Server.Options;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.Http;

/// <summary>The front door's part of permessage-deflate: building the server's deflate machinery and negotiating per upgrade.</summary>
internal static class CompressionSetup
{
    public static PerMessageDeflate? Create(CompressionOptions options, GatewayMetrics metrics, ILogger log)
    {
        if (!options.Enabled) return null;
        if (!PerMessageDeflate.IsAvailable)
        {
            Log.CompressionUnavailable(log, PerMessageDeflate.UnavailableReason ?? "unknown");
            return null;
        }
        var deflate = new PerMessageDeflate(options.ToSettings());
        metrics.ObserveCompression(deflate);
        return deflate;
    }

    public static PerMessageDeflateParameters? Negotiate(PerMessageDeflate? deflate, HttpRequestHead request, long connectionId, GatewayMetrics metrics, ILogger log)
    {
        if (deflate is null) return null;
        var accepted = PerMessageDeflateNegotiation.Negotiate(request, deflate, out var declined);
        if (declined is not null)
        {
            metrics.CompressionDeclined();
            if (metrics.LogBudget.Allow(log, LogLevel.Debug)) Log.CompressionDeclined(log, connectionId, declined);
        }
        if (accepted is not null)
        {
            metrics.CompressionNegotiated();
            if (metrics.LogBudget.Allow(log, LogLevel.Debug)) Log.CompressionNegotiated(log, connectionId, accepted.Response);
        }
        return accepted;
    }
}
