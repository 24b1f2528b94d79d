using System.Net;
using System.Net.Sockets;
using Gateway.LoadTest.Net;

namespace Gateway.LoadTest.Scenarios;

public static class Connector
{
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Opens <paramref name="count"/> connections, at most <paramref name="parallel"/> at a time; throws on the first failure.</summary>
    /// <param name="source">The source address of connection i (see <see cref="ConnectionsScenario.Plan"/>), or null for the kernel's choice.</param>
    public static async Task<WsConnection[]> ConnectManyAsync(ConnectTarget target, int count, int parallel, int receiveBufferBytes, CancellationToken ct,
        Func<int, IPAddress?>? source = null)
    {
        var result = new WsConnection[count];
        int next = -1;
        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
                result[i] = await ConnectOneAsync(target, source?.Invoke(i), receiveBufferBytes, ct);
        }
        try
        {
            await Task.WhenAll(Enumerable.Range(0, Math.Min(parallel, count)).Select(_ => Task.Run(Worker)));
        }
        catch
        {
            foreach (var c in result) if (c is not null) await c.CloseAsync(TimeSpan.FromSeconds(1));
            throw;
        }
        return result;
    }

    public static async Task<WsConnection> ConnectOneAsync(ConnectTarget target, IPAddress? source, int receiveBufferBytes, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            return await WsConnection.ConnectAsync(target, source, receiveBufferBytes, timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new HandshakeException($"no connection within {ConnectTimeout.TotalSeconds:0}s");
        }
    }

    /// <summary>A short reason for a failed connect, stable enough to be counted.</summary>
    public static string Describe(Exception ex) => ex switch
    {
        HandshakeException h => h.Message,
        SocketException s => $"connect failed: {s.SocketErrorCode} ({s.Message})",
        _ => $"{ex.GetType().Name}: {ex.Message}",
    };
}
