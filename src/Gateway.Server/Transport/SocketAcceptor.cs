using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Gateway.Server.Transport;

/// <summary>
/// Accepts through one reused <see cref="SocketAsyncEventArgs"/>: a failed accept comes back as a
/// <see cref="SocketError"/> value, not a thrown exception. When the process is out of descriptors (EMFILE),
/// an exception is the worst thing to create: rendering its stack trace loads assemblies and opens files, and
/// the runtime turns that failure into "Out of memory." and aborts.
/// </summary>
internal sealed class SocketAcceptor : SocketAsyncEventArgs, IValueTaskSource<SocketError>
{
    private ManualResetValueTaskSourceCore<SocketError> _source = new() { RunContinuationsAsynchronously = true };

    public SocketAcceptor() : base(unsafeSuppressExecutionContextFlow: true) { }

    /// <summary>The next connection (in <see cref="SocketAsyncEventArgs.AcceptSocket"/>) or why there is none.</summary>
    public ValueTask<SocketError> AcceptAsync(Socket listener)
    {
        AcceptSocket = null;
        _source.Reset();
        return listener.AcceptAsync(this) ? new ValueTask<SocketError>(this, _source.Version) : new ValueTask<SocketError>(SocketError);
    }

    protected override void OnCompleted(SocketAsyncEventArgs e) => _source.SetResult(SocketError);

    SocketError IValueTaskSource<SocketError>.GetResult(short token) => _source.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource<SocketError>.GetStatus(short token) => _source.GetStatus(token);
    void IValueTaskSource<SocketError>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);
}
