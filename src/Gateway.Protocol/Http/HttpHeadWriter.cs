using System.Buffers;
using System.Text;

namespace Gateway.Protocol.Http;

internal readonly ref struct HttpHeadWriter(IBufferWriter<byte> output)
{
    private readonly IBufferWriter<byte> _output = output;

    public void Append(ReadOnlySpan<byte> bytes)
    {
        var span = _output.GetSpan(bytes.Length);
        bytes.CopyTo(span);
        _output.Advance(bytes.Length);
    }

    public void Append(string text)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        var span = _output.GetSpan(max);
        _output.Advance(Encoding.UTF8.GetBytes(text, span));
    }
}
