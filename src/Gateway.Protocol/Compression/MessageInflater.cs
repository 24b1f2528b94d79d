namespace Gateway.Protocol.Compression;

/// <summary>
/// A connection's inbound permessage-deflate state, driven by <see cref="WebSockets.MessageReader"/>. With client no
/// context takeover (the default) it borrows a pooled inflater for the length of one compressed message and gives it
/// back reset, so an idle connection holds nothing; with client context takeover the client's later messages may refer
/// to earlier ones, so the connection keeps its own inflater (and its window) from its first compressed message on.
/// </summary>
public sealed class MessageInflater : IDisposable
{
    private readonly PerMessageDeflate _owner;
    private readonly bool _keepContext;
    private readonly int _windowBits;
    private ZLibInflater? _stream;

    internal MessageInflater(PerMessageDeflate owner, PerMessageDeflateParameters parameters)
    {
        _owner = owner;
        _keepContext = !parameters.ClientNoContextTakeover;
        // A window larger than the sender's decodes its data too; 9 because some zlib builds turn a requested 8 into 9.
        _windowBits = Math.Max(9, parameters.ClientMaxWindowBits);
    }

    internal PerMessageDeflate Owner => _owner;

    /// <summary>True when the client may keep its context (the connection then keeps an inflater between messages).</summary>
    public bool KeepsContext => _keepContext;

    /// <summary>True while native inflate state is held (during a compressed message, or for good with context takeover).</summary>
    public bool HoldsState => _stream is not null;

    /// <summary>Native bytes an inflater of this window holds once it has inflated something (zlib-ng: window plus about 7 KiB of state).</summary>
    public long StateBytes => (1L << _windowBits) + 7 * 1024;

    internal void BeginMessage()
    {
        _stream ??= _keepContext ? _owner.NewOwnInflater(_windowBits) : _owner.Inflaters(_windowBits).Rent();
    }

    internal ZLibInflater.Status Inflate(ReadOnlySpan<byte> input, Span<byte> output, out int consumed, out int written) =>
        _stream!.Inflate(input, output, out consumed, out written);

    /// <summary>The message is over (delivered or failed): give the pooled inflater back, or keep the context.</summary>
    /// <param name="streamEnded">The message ended with a final deflate block: the stream starts afresh next time.</param>
    internal void EndMessage(bool streamEnded)
    {
        var stream = _stream;
        if (stream is null) return;
        if (_keepContext)
        {
            if (streamEnded && !stream.Reset())
            {
                stream.Dispose();
                _stream = null;
            }
            return;
        }
        _stream = null;
        // Reset before anyone else gets it: another connection must never inflate against this one's window.
        if (stream.Reset()) _owner.Inflaters(_windowBits).Return(stream);
        else stream.Dispose();
    }

    public void Dispose()
    {
        if (_keepContext)
        {
            _stream?.Dispose();
            _stream = null;
        }
        else
        {
            EndMessage(streamEnded: false);
        }
    }
}
