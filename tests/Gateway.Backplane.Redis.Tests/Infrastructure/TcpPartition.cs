using System.Net;
using System.Net.Sockets;

namespace Gateway.Backplane.Redis.Tests.Infrastructure;

/// <summary>
/// A TCP forwarder on 127.0.0.1 in front of a server, to cut one client off from it while the server (and its data)
/// stays up: <see cref="Cut"/> closes every forwarded connection and refuses new ones, <see cref="RestoreAsync"/>
/// listens again on the same port. A network partition, without touching the server.
/// </summary>
public sealed class TcpPartition : IAsyncDisposable
{
    private readonly int _target;
    private readonly object _gate = new();
    private readonly List<TcpClient> _open = [];
    private TcpListener? _listener;
    private Task _acceptLoop = Task.CompletedTask;

    public TcpPartition(int targetPort)
    {
        _target = targetPort;
        _listener = Listen(0);
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptLoopAsync(_listener);
    }

    public int Port { get; }
    public string Configuration => $"127.0.0.1:{Port}";
    public bool IsCut => _listener is null;

    /// <summary>Closes every forwarded connection (both sides) and refuses new ones until <see cref="RestoreAsync"/>.</summary>
    public void Cut()
    {
        TcpListener? listener;
        TcpClient[] open;
        lock (_gate)
        {
            listener = _listener;
            _listener = null;
            open = [.. _open];
            _open.Clear();
        }
        listener?.Stop();
        foreach (var c in open) Close(c);
    }

    /// <summary>Listens again on the same port.</summary>
    public async Task RestoreAsync()
    {
        await _acceptLoop; // the old loop has ended (its listener was stopped)
        var listener = Listen(Port);
        lock (_gate) _listener = listener;
        _acceptLoop = AcceptLoopAsync(listener);
    }

    private static TcpListener Listen(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        return listener;
    }

    private async Task AcceptLoopAsync(TcpListener listener)
    {
        while (true)
        {
            TcpClient inbound;
            try { inbound = await listener.AcceptTcpClientAsync(); }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException) { return; }
            _ = ForwardAsync(listener, inbound);
        }
    }

    private async Task ForwardAsync(TcpListener listener, TcpClient inbound)
    {
        var outbound = new TcpClient();
        try
        {
            await outbound.ConnectAsync(IPAddress.Loopback, _target);
        }
        catch (SocketException)
        {
            Close(inbound);
            Close(outbound);
            return;
        }
        lock (_gate)
        {
            if (!ReferenceEquals(_listener, listener))
            {
                // Cut meanwhile.
                Close(inbound);
                Close(outbound);
                return;
            }
            _open.Add(inbound);
            _open.Add(outbound);
        }
        var a = PumpAsync(inbound, outbound);
        var b = PumpAsync(outbound, inbound);
        await Task.WhenAny(a, b);
        Close(inbound);
        Close(outbound);
        lock (_gate)
        {
            _open.Remove(inbound);
            _open.Remove(outbound);
        }
    }

    private static async Task PumpAsync(TcpClient from, TcpClient to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            var src = from.GetStream();
            var dst = to.GetStream();
            while (true)
            {
                int n = await src.ReadAsync(buffer);
                if (n == 0) return;
                await dst.WriteAsync(buffer.AsMemory(0, n));
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException) { }
    }

    private static void Close(TcpClient client)
    {
        // Cut and the forwarder's own end can close the same client at once; a disposed TcpClient's Client is null.
        if (client.Client is { } socket)
        {
            try { socket.LingerState = new LingerOption(true, 0); } catch (Exception ex) when (ex is SocketException or ObjectDisposedException) { }
        }
        client.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        Cut();
        try { await _acceptLoop.WaitAsync(TimeSpan.FromSeconds(5)); } catch (TimeoutException) { }
    }
}
