using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Gateway.Server.Push;

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
