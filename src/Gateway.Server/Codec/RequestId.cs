using System.Buffers;

namespace Gateway.Server.Codec;

/// <summary>
/// A request id as it must be echoed: the raw token of the connection's format (a slice of the received message, valid
/// only while the read loop handles that message) or, once the call outlives the message, its key (IWireCodec.IdKey).
/// </summary>
internal readonly struct RequestId
{
    public RequestId(ReadOnlySequence<byte> raw) { Raw = raw; Text = null; }
    public RequestId(string text) { Raw = default; Text = text; }
    public ReadOnlySequence<byte> Raw { get; }
    public string? Text { get; }
    public bool IsEmpty => Text is null && Raw.IsEmpty;
    public static readonly RequestId None = default;
}
