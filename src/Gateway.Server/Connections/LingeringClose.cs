namespace Gateway.Server.Connections;

/// <summary>
/// The end of every connection we close on purpose (an HTTP answer, a WebSocket closing handshake): let what we sent
/// reach the peer, send FIN, then read and discard until the peer closes or the deadline passes. Closing at once with
/// unread data would make the kernel send RST, and the peer could lose our last response or close frame.
/// </summary>
internal static class LingeringClose
{
    /// <summary>
    /// Arms the connection's deadline (enforced by the heartbeat: the transport is aborted when it passes), waits for
    /// <paramref name="outputCompleted"/> (the caller has just started completing its output) and the transport's send
    /// loop, then drains the input until the peer closes.
    /// </summary>
    public static async Task RunAsync(GatewayConnection connection, ValueTask outputCompleted, TimeSpan timeout)
    {
        connection.SetDeadline(timeout, "peer did not close in time");
        var input = connection.Transport.Input;
        try
        {
            await outputCompleted.ConfigureAwait(false);
            await connection.Transport.SendCompleted.ConfigureAwait(false);
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled) return;
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The peer reset, or the deadline aborted the transport under the read: either way the connection is over.
        }
    }
}
