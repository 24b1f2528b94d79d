using System.Buffers;
using Gateway.Protocol.WebSockets;

namespace Gateway.Server.WebSockets;

/// <summary>
/// What runs on top of a WebSocket session (the RPC dispatcher, the echo endpoint). The session's read
/// loop calls it for every complete message; the payload is only valid until the returned task
/// completes, and the loop reads nothing more from the socket meanwhile (so an application that
/// awaits here applies backpressure to its client).
/// </summary>
public interface IWebSocketApplication
{
    /// <summary>Subprotocols this endpoint accepts, in the server's order of preference.</summary>
    IReadOnlyList<string> Subprotocols { get; }
    ValueTask OnConnectedAsync(WebSocketSession session);
    ValueTask OnMessageAsync(WebSocketSession session, Opcode opcode, ReadOnlySequence<byte> payload);
    ValueTask OnDisconnectedAsync(WebSocketSession session);

    /// <summary>
    /// The server is stopping: refuse new work, end streams, and complete when the session's in-flight work is
    /// done or <paramref name="cancellationToken"/> fires. The server closes the session with 1001 afterwards.
    /// </summary>
    ValueTask DrainAsync(WebSocketSession session, CancellationToken cancellationToken) => default;
}

/// <summary>Echoes every text and binary message back unchanged: for conformance tests and transport benchmarks.</summary>
public sealed class EchoApplication : IWebSocketApplication
{
    public IReadOnlyList<string> Subprotocols { get; } = [Gateway.Protocol.Http.WebSocketHandshake.JsonSubprotocol, Gateway.Protocol.Http.WebSocketHandshake.MsgPackSubprotocol];
    public ValueTask OnConnectedAsync(WebSocketSession session) => default;
    public ValueTask OnDisconnectedAsync(WebSocketSession session) => default;

    public ValueTask OnMessageAsync(WebSocketSession session, Opcode opcode, ReadOnlySequence<byte> payload)
    {
        session.Send(PooledFrame.Create(opcode, payload));
        return default;
    }
}
