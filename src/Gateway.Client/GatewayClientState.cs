namespace Gateway.Client;

/// <summary>Where a <see cref="GatewayClient"/> is in its life; see <see cref="GatewayClient.StateChanged"/>.</summary>
public enum GatewayClientState
{
    /// <summary>Created, <see cref="GatewayClient.ConnectAsync"/> not called yet.</summary>
    Disconnected,
    /// <summary>The first connection is being opened.</summary>
    Connecting,
    /// <summary>Connected, topic subscriptions in effect: calls can be made.</summary>
    Connected,
    /// <summary>The connection was lost; the client is opening a new one (backoff between attempts). Calls fail with <see cref="GatewayConnectionLostException"/>.</summary>
    Reconnecting,
    /// <summary>Disposed, or reconnecting gave up (or is disabled): the client will not connect again.</summary>
    Closed,
}

/// <summary>A change of <see cref="GatewayClient.State"/>.</summary>
public sealed class GatewayClientStateChangedEventArgs(GatewayClientState previous, GatewayClientState current, Exception? error) : EventArgs
{
    /// <summary>The state before.</summary>
    public GatewayClientState Previous { get; } = previous;
    /// <summary>The state now.</summary>
    public GatewayClientState Current { get; } = current;
    /// <summary>Why the connection was lost or an attempt failed, when known.</summary>
    public Exception? Error { get; } = error;
}

/// <summary>An event received on a topic the client subscribed to (<see cref="GatewayClient.SubscribeAsync{T}"/>).</summary>
/// <typeparam name="T">The type the event's data was read as.</typeparam>
/// <param name="Topic">The topic, e.g. <c>room:lobby</c>.</param>
/// <param name="Event">The event's name, e.g. <c>chat.message</c>.</param>
/// <param name="Data">The event's data.</param>
public readonly record struct TopicEvent<T>(string Topic, string Event, T? Data);
