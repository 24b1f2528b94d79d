namespace Gateway.Protocol.WebSockets;

/// <summary>RFC 6455 §5.2 opcodes. Values 3–7 and 11–15 are reserved and rejected.</summary>
public enum Opcode : byte
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

/// <summary>RFC 6455 §7.4 status codes used by the server.</summary>
public static class CloseCodes
{
    public const ushort Normal = 1000;
    public const ushort GoingAway = 1001;
    public const ushort ProtocolError = 1002;
    public const ushort UnsupportedData = 1003;
    public const ushort NoStatus = 1005;
    public const ushort InvalidPayload = 1007;
    public const ushort PolicyViolation = 1008;
    public const ushort MessageTooBig = 1009;
    public const ushort InternalError = 1011;

    /// <summary>
    /// Codes a peer may put on the wire (§7.4.1, §7.4.2): 1000–1003, 1007–1011 and the
    /// registered/private range 3000–4999. 1004–1006 and 1015 are reserved for local use only.
    /// </summary>
    public static bool IsValidOnWire(ushort code) =>
        code is (>= 1000 and <= 1003) or (>= 1007 and <= 1011) or (>= 3000 and <= 4999);
}
