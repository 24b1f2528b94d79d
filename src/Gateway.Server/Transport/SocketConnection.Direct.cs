using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Gateway.Server.Transport;

// The direct send: the output's one writer (the session's outbox) hands a batch straight to the kernel instead of
// through the output pipe and the send loop. That saves, per batch, a copy into the pipe, the send loop's wake-up (a
// thread-pool work item) and its await, which for a fan-out is paid once per subscriber per publish. The pipe and the
// loop stay for what the kernel does not take at once (a full socket buffer: a slow reader, a large message), so the
// backpressure, the send limit and the close (FIN after the last byte) work as before.
internal sealed partial class SocketConnection
{
    private readonly OutputWriter _outputWriter;
    // Bytes flushed into the output pipe that the send loop has not yet handed to the kernel. Only the output's writer
    // adds (one at a time, as for any PipeWriter) and only the send loop subtracts, after its send completed; so when the
    // writer reads zero, every byte it ever put in the pipe is already in the kernel and a send() of its own lands after them.
    private long _pipeUnsent;

    // Only the output's writer adds to it (no atomic needed); part of BytesSent.
    private long _bytesSentDirect;

    /// <summary>Bytes of <see cref="BytesSent"/> that went straight to the socket, not through the pipe and the send loop.</summary>
    public long BytesSentDirect => Volatile.Read(ref _bytesSentDirect);

    /// <summary>
    /// True when the output pipe holds nothing unsent, so <see cref="TrySendDirect"/> keeps the byte order. Only the
    /// output's writer may ask, and only it may then send: nothing else can add to the pipe meanwhile.
    /// </summary>
    public bool CanSendDirect => DirectSupported && Volatile.Read(ref _pipeUnsent) == 0 && !IsAborted;

    // send(2) with MSG_DONTWAIT: Socket.Send cannot do it, as on a non-blocking socket it reports a send the kernel took
    // in part as WouldBlock with 0 bytes, and resending those bytes would corrupt the stream. Linux only (the flags'
    // values); elsewhere everything goes through the pipe as before.
    private static readonly bool DirectSupported = OperatingSystem.IsLinux();
    private const int MsgDontWait = 0x40, MsgNoSignal = 0x4000;
    private const int EIntr = 4, EAgain = 11;

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint SysSend(SafeSocketHandle socket, byte* buffer, nuint length, int flags);

    /// <summary>
    /// A non-blocking send() of <paramref name="data"/>: the bytes the kernel took (fewer when its buffer is full; the
    /// caller writes the rest to <see cref="Output"/>), or -1 when the connection is broken or aborted (nothing more can
    /// be sent; the receive side sees the end). Counts <see cref="BytesSent"/> and tells the send observer like the loop.
    /// Only the output's writer calls it, after <see cref="CanSendDirect"/>.
    /// </summary>
    public unsafe int TrySendDirect(ReadOnlySpan<byte> data)
    {
        int sent;
        try
        {
            while (true)
            {
                nint n;
                // The handle is referenced for the call (the marshaller's AddRef): an abort racing it cannot close the
                // descriptor under us, let alone have it reused by another connection.
                fixed (byte* p = data) n = SysSend(_socket.SafeHandle, p, (nuint)data.Length, MsgDontWait | MsgNoSignal);
                if (n >= 0)
                {
                    sent = (int)n;
                    break;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EIntr) continue;
                if (errno == EAgain) return 0;
                return -1; // reset, broken pipe: the receive side sees the end
            }
        }
        catch (ObjectDisposedException)
        {
            return -1; // aborted meanwhile
        }
        if (sent > 0)
        {
            Volatile.Write(ref _bytesSentDirect, _bytesSentDirect + sent);
            Interlocked.Add(ref _bytesSent, sent);
            Volatile.Read(ref _sendObserver)?.OnSent();
        }
        return sent;
    }

    /// <summary>The output pipe's writer, counting what it flushes into the pipe (<see cref="_pipeUnsent"/>).</summary>
    private sealed class OutputWriter(SocketConnection owner, PipeWriter inner) : PipeWriter
    {
        private long _unflushed;

        private void Commit(long more)
        {
            long n = _unflushed + more;
            _unflushed = 0;
            // Counted before the pipe sees the bytes, so the count is never below what the send loop can read.
            if (n != 0) Interlocked.Add(ref owner._pipeUnsent, n);
        }

        public override void Advance(int bytes)
        {
            inner.Advance(bytes);
            _unflushed += bytes;
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);
        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            Commit(0);
            return inner.FlushAsync(cancellationToken);
        }

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            Commit(source.Length);
            return inner.WriteAsync(source, cancellationToken);
        }

        // Completing commits what was advanced and not flushed: the send loop still sends it.
        public override void Complete(Exception? exception = null)
        {
            Commit(0);
            inner.Complete(exception);
        }

        public override ValueTask CompleteAsync(Exception? exception = null)
        {
            Commit(0);
            return inner.CompleteAsync(exception);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();
        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;
        public override long UnflushedBytes => inner.UnflushedBytes;
    }
}
