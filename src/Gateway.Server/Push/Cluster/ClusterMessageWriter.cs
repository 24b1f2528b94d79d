using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Gateway.Server.Push;

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
