namespace Gateway.Protocol.Compression;

/// <summary>The permessage-deflate parameters agreed with one client (RFC 7692 §7.1).</summary>
/// <param name="ServerNoContextTakeover">The server compresses every message on its own.</param>
/// <param name="ClientNoContextTakeover">The client compresses every message on its own.</param>
/// <param name="ServerMaxWindowBits">Window the server compresses with.</param>
/// <param name="ClientMaxWindowBits">Window the client may compress with (15 when the client did not offer client_max_window_bits).</param>
/// <param name="Response">The Sec-WebSocket-Extensions value of the 101 answer.</param>
public sealed record PerMessageDeflateParameters(
    bool ServerNoContextTakeover, bool ClientNoContextTakeover, int ServerMaxWindowBits, int ClientMaxWindowBits, string Response);
