namespace Gateway.Protocol.Compression;

/// <summary>
/// A connection's inbound permessage-deflate policy, driven by <see cref="WebSockets.MessageReader"/>. With client no
/// context takeover (the default) a message borrows a pooled inflater that goes back reset at its end; the stream in
/// use is the reader's to hold, so one instance serves every such connection of a window size
/// (<see cref="PerMessageDeflate.CreateInflater"/>) and an idle connection holds no object of its own for it. With
/// client context takeover the client's later messages may refer to earlier ones, so the connection gets its own
/// instance, which keeps an inflater (and its window) from its first compressed message on.
/// </summary>
public sealed class MessageInflater : IDisposable
{
    private readonly PerMessageDeflate _owner;
    private readonly bool _keepContext;
    private readonly int _windowBits;
    private ZLibInflater? _own;

    internal MessageInflater(PerMessageDeflate owner, bool keepContext, int clientMaxWindowBits)
    {
        _owner = owner;
        _keepContext = keepContext;
        // A window larger than the sender's decodes its data too; 9 because some zlib builds turn a requested 8 into 9.
        _windowBits = Math.Max(9, clientMaxWindowBits);
    }

    internal PerMessageDeflate Owner => _owner;

    /// <summary>True when the client may keep its context (the connection then keeps an inflater between messages).</summary>
    public bool KeepsContext => _keepContext;

    /// <summary>True while a connection's own inflater is kept between messages (context takeover only).</summary>
    public bool HoldsState => _own is not null;

    /// <summary>Native bytes an inflater of this window holds once it has inflated something (zlib-ng: window plus about 7 KiB of state).</summary>
    public long StateBytes => (1L << _windowBits) + 7 * 1024;

    /// <summary>The stream for one compressed message, held by the reader until <see cref="EndMessage"/>.</summary>
    internal ZLibInflater BeginMessage() =>
        _keepContext ? _own ??= _owner.NewOwnInflater(_windowBits) : _owner.Inflaters(_windowBits).Rent();

    /// <summary>The message is over (delivered or failed): give the pooled inflater back, or keep the context.</summary>
    /// <param name="streamEnded">The message ended with a final deflate block: the stream starts afresh next time.</param>
    internal void EndMessage(ZLibInflater stream, bool streamEnded)
    {
        if (_keepContext)
        {
            if (streamEnded && !stream.Reset())
            {
                stream.Dispose();
                if (ReferenceEquals(stream, _own)) _own = null;
            }
            return;
        }
        // Reset before anyone else gets it: another connection must never inflate against this one's window.
        if (stream.Reset()) _owner.Inflaters(_windowBits).Return(stream);
        else stream.Dispose();
    }

    /// <summary>Releases a connection's own inflater (context takeover); a shared instance holds nothing to release.</summary>
    public void Dispose()
    {
        _own?.Dispose();
        _own = null;
    }
}
