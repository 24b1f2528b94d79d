using System.Collections.Concurrent;
using System.Net;
using Gateway.Protocol.Http;
using Gateway.Server.Connections;
using Gateway.Server.Options;
using Gateway.Server.Transport;

namespace Gateway.Server.Http;

/// <summary>
/// Who may upgrade: the origin allow-list (<c>AllowedOrigins</c>), the connection limit (a connection accepted into an
/// over-limit slot) and <c>Limits:MaxConnectionsPerIp</c>, counted per client address from accept to release.
/// </summary>
internal sealed class Admission(GatewayOptions options)
{
    private readonly ConcurrentDictionary<IPAddress, int> _perIp = new();

    /// <summary>Counts a connection against its address; returns the address to hand back to <see cref="Release"/>.</summary>
    public IPAddress? Track(SocketConnection transport)
    {
        var ip = ClientAddress(transport);
        if (ip is not null) _perIp.AddOrUpdate(ip, 1, static (_, n) => n + 1);
        return ip;
    }

    public void Release(IPAddress? ip)
    {
        if (ip is null) return;
        while (_perIp.TryGetValue(ip, out int n))
        {
            if (n <= 1 ? _perIp.TryRemove(new KeyValuePair<IPAddress, int>(ip, n)) : _perIp.TryUpdate(ip, n - 1, n)) return;
        }
    }

    public bool IsOriginAllowed(HttpRequestHead request)
    {
        var allowed = options.AllowedOrigins;
        if (allowed is not { Length: > 0 } || !request.TryGet("Origin"u8, out var origin)) return true;
        foreach (var entry in allowed)
        {
            if (entry == "*") return true;
            if (origin.Length == entry.Length && System.Text.Ascii.EqualsIgnoreCase(origin, entry)) return true;
        }
        return false;
    }

    /// <summary>Why this connection may not upgrade for lack of room (503), or null when it may.</summary>
    public string? RefuseForLimits(GatewayConnection connection)
    {
        if (connection.OverLimit) return "connection limit reached";
        int maxPerIp = options.Limits.MaxConnectionsPerIp;
        var address = ClientAddress(connection.Transport);
        if (maxPerIp > 0 && address is not null && _perIp.TryGetValue(address, out int fromIp) && fromIp > maxPerIp)
            return "too many connections from this address";
        return null;
    }

    private static IPAddress? ClientAddress(SocketConnection transport)
    {
        var address = transport.RemoteEndPoint?.Address;
        return address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;
    }
}
