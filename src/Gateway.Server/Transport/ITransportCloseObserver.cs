namespace Gateway.Server.Transport;

/// <summary>
/// Told once when a connection's peer is gone or the connection is aborted (see <see cref="SocketConnection.ObserveClose"/>):
/// a direct call instead of a CancellationToken registration, so an idle connection holds no token source for it.
/// </summary>
internal interface ITransportCloseObserver
{
    void OnTransportClosed();
}
