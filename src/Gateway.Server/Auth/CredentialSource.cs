namespace Gateway.Server.Auth;

/// <summary>Where the handshake's bearer token was found (first match wins, in this order).</summary>
internal enum CredentialSource
{
    None,
    /// <summary><c>Authorization: Bearer T</c>.</summary>
    Header,
    /// <summary>A <c>bearer.T</c> entry in <c>Sec-WebSocket-Protocol</c> (never echoed back).</summary>
    Subprotocol,
    /// <summary>The Gateway:Auth:QueryParameter parameter (default <c>access_token</c>).</summary>
    Query,
    /// <summary>The Gateway:Auth:Cookie cookie.</summary>
    Cookie,
}
