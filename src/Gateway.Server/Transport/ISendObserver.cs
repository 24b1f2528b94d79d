namespace Gateway.Server.Transport;

/// <summary>
/// What the layer above learns from the send loop: that bytes reached the socket (the WebSocket session then
/// releases writers waiting for room under its send limit). One observer per connection, set once.
/// </summary>
internal interface ISendObserver
{
    /// <summary>Called on the send loop after each write to the socket; must not block.</summary>
    void OnSent();
}
