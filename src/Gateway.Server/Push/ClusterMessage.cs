using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Gateway.Server.Push;

internal enum ClusterMessageType : byte
{
    /// <summary>An event for one connection: local id, then the event envelope (JSON).</summary>
    ConnectionEvent = 1,
    /// <summary>An event for every connection of a user: user id, then the event envelope.</summary>
    UserEvent = 2,
    /// <summary>A server-to-client call for one connection: correlation, reply node, local id, timeout, path, then the input (JSON, empty for none).</summary>
    Call = 3,
    /// <summary>The answer to a Call, Subscribe or Unsubscribe: correlation, outcome, then JSON (a result, or an error object).</summary>
    Reply = 4,
    /// <summary>The caller gave up on a Call: correlation and caller node.</summary>
    CancelCall = 5,
    /// <summary>Subscribe a connection to a topic: correlation, reply node, local id, topic.</summary>
    Subscribe = 6,
    Unsubscribe = 7,
}

/// <summary>
/// The messages nodes send each other on their own channels: a type byte, fixed fields (big-endian integers,
/// strings as a 16-bit length and UTF-8), then a JSON body that runs to the end. Small and versioned by type,
/// so a node never parses JSON just to route.
/// </summary>
internal struct ClusterMessage
{
    public ClusterMessageType Type;
    public long LocalId;
    public long Correlation;
    public string? Node;
    public string? Text;     // user id, path or topic
    public int TimeoutMs;
    public bool IsError;
    public ReadOnlyMemory<byte> Body;

    public static bool TryParse(ReadOnlyMemory<byte> data, out ClusterMessage message)
    {
        message = default;
        if (data.IsEmpty) return false;
        var span = data.Span;
        message.Type = (ClusterMessageType)span[0];
        int at = 1;
        try
        {
            switch (message.Type)
            {
                case ClusterMessageType.ConnectionEvent:
                    message.LocalId = ReadInt64(span, ref at);
                    break;
                case ClusterMessageType.UserEvent:
                    message.Text = ReadString(span, ref at);
                    break;
                case ClusterMessageType.Call:
                    message.Correlation = ReadInt64(span, ref at);
                    message.Node = ReadString(span, ref at);
                    message.LocalId = ReadInt64(span, ref at);
                    message.TimeoutMs = (int)Math.Clamp(ReadInt64(span, ref at), 1, int.MaxValue);
                    message.Text = ReadString(span, ref at);
                    break;
                case ClusterMessageType.Reply:
                    message.Correlation = ReadInt64(span, ref at);
                    message.IsError = span[at++] != 0;
                    break;
                case ClusterMessageType.CancelCall:
                    message.Correlation = ReadInt64(span, ref at);
                    message.Node = ReadString(span, ref at);
                    break;
                case ClusterMessageType.Subscribe:
                case ClusterMessageType.Unsubscribe:
                    message.Correlation = ReadInt64(span, ref at);
                    message.Node = ReadString(span, ref at);
                    message.LocalId = ReadInt64(span, ref at);
                    message.Text = ReadString(span, ref at);
                    break;
                default:
                    return false;
            }
        }
        catch (Exception ex) when (ex is ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            return false;
        }
        message.Body = data[at..];
        return true;
    }

    private static long ReadInt64(ReadOnlySpan<byte> span, ref int at)
    {
        long v = BinaryPrimitives.ReadInt64BigEndian(span[at..]);
        at += 8;
        return v;
    }

    private static string ReadString(ReadOnlySpan<byte> span, ref int at)
    {
        int n = BinaryPrimitives.ReadUInt16BigEndian(span[at..]);
        var s = Encoding.UTF8.GetString(span.Slice(at + 2, n));
        at += 2 + n;
        return s;
    }
}

/// <summary>Writes one <see cref="ClusterMessage"/>; the JSON body goes last, through <see cref="Writer"/>.</summary>
internal sealed class ClusterMessageWriter
{
    private readonly ArrayBufferWriter<byte> _buffer;

    public ClusterMessageWriter(ClusterMessageType type, int bodyHint = 256)
    {
        _buffer = new ArrayBufferWriter<byte>(64 + bodyHint);
        _buffer.GetSpan(1)[0] = (byte)type;
        _buffer.Advance(1);
    }

    public IBufferWriter<byte> Writer => _buffer;
    public ReadOnlyMemory<byte> Written => _buffer.WrittenMemory;

    public ClusterMessageWriter Int64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
        return this;
    }

    public ClusterMessageWriter Byte(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
        return this;
    }

    public ClusterMessageWriter String(string value)
    {
        int n = Encoding.UTF8.GetByteCount(value);
        if (n > ushort.MaxValue) throw new ArgumentException("too long for a cluster message field", nameof(value));
        var span = _buffer.GetSpan(2 + n);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)n);
        Encoding.UTF8.GetBytes(value, span[2..]);
        _buffer.Advance(2 + n);
        return this;
    }

    public ClusterMessageWriter Bytes(ReadOnlySpan<byte> value)
    {
        _buffer.Write(value);
        return this;
    }
}
