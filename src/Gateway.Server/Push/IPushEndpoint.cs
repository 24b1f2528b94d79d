using Gateway.Server.Codec;
using Gateway.Server.WebSockets;

namespace Gateway.Server.Push;

/// <summary>
/// All the RPC layer may ask of push: a <see cref="PushState"/> for each connection it serves, given back when the
/// connection goes, the user of a connection, and the public push API its handlers see. Push depends on nothing in
/// the RPC layer; the RPC layer knows push only through this interface and the state it holds.
/// </summary>
internal interface IPushEndpoint
{
    /// <summary>Registers a new connection: events, topics, users and server calls (written in <paramref name="codec"/>) can reach it from now on.</summary>
    PushState Connect(WebSocketSession session, IWireCodec codec);

    /// <summary>The connection is gone: out of the directory, its topics and its user; its waiting server calls fail.</summary>
    void Disconnect(PushState state);

    /// <summary>Moves a connection to another user (or none): local index now, backplane registration before it completes.</summary>
    ValueTask SetUserAsync(PushState state, string? userId, CancellationToken cancellationToken = default);

    /// <summary>Topics and events, as handlers see them (<see cref="RpcContext.Topics"/>).</summary>
    ITopics Topics { get; }

    /// <summary>Events and calls to connections and users, as handlers see them (<see cref="RpcContext.Connections"/>).</summary>
    IConnections Connections { get; }
}
