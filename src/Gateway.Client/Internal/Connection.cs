using System.Net.WebSockets;

namespace Gateway.Client.Internal;

/// <summary>One WebSocket connection of a client: a new one per (re)connect, since a ClientWebSocket is single-use.</summary>
internal sealed class Connection(ClientWebSocket socket, Uri uri)
{
    private readonly Dictionary<long, CancellationTokenSource> _serverCalls = [];

    public ClientWebSocket Socket { get; } = socket;
    public Uri Uri { get; } = uri;
    public Task Receive { get; set; } = Task.CompletedTask;
    /// <summary>Set (under the client's state lock) once the receive loop has ended.</summary>
    public bool Ended { get; set; }
    public WebSocketCloseStatus? CloseStatus { get; set; }
    public string? CloseDescription { get; set; }

    /// <summary>A server call now running on this connection, cancelled by the server's cancel or the connection's end.</summary>
    public void AddServerCall(long id, CancellationTokenSource cts)
    {
        bool ended;
        lock (_serverCalls)
        {
            ended = Ended;
            if (!ended) _serverCalls[id] = cts;
        }
        if (ended) cts.Cancel();
    }

    /// <summary>Takes a running server call out; whoever takes it answers it (or, for a cancel, cancels it).</summary>
    public bool TryTakeServerCall(long id, CancellationTokenSource? expected, out CancellationTokenSource? cts)
    {
        lock (_serverCalls)
        {
            if (_serverCalls.TryGetValue(id, out cts) && (expected is null || ReferenceEquals(cts, expected)))
            {
                _serverCalls.Remove(id);
                return true;
            }
        }
        cts = null;
        return false;
    }

    public void CancelServerCalls()
    {
        CancellationTokenSource[] running;
        lock (_serverCalls)
        {
            Ended = true;
            running = [.. _serverCalls.Values];
            _serverCalls.Clear();
        }
        foreach (var cts in running)
        {
            try { cts.Cancel(); }
            catch (ObjectDisposedException) { } // the handler finished at this moment
        }
    }
}
