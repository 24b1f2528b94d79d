using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Gateway.Server.Transport;

/// <summary>
/// Moves bytes between one socket and a duplex pipe, and knows nothing about HTTP or WebSocket.
/// The receive loop waits for the socket to become readable before renting a buffer, so an idle
/// connection holds no receive memory. The send loop drains the output pipe; when the peer reads
/// slowly the output pipe fills up and the writer's unfinished FlushAsync is the backpressure.
/// The one writer of the output may also bypass the pipe (<see cref="TrySendDirect"/>) while the pipe holds nothing
/// unsent: a non-blocking send() from the writer's thread, with what the kernel does not take written to the pipe.
/// </summary>
internal sealed partial class SocketConnection : IDuplexPipe, IAsyncDisposable
{
    private const int MinReceiveBuffer = 4096;

    private readonly Socket _socket;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private Task _receiveTask = Task.CompletedTask;
    private Task _sendTask = Task.CompletedTask;
    private List<ArraySegment<byte>>? _sendSegments;
    private int _aborted;
    // Made on first use of ConnectionClosed (the handshake's authenticator, if any): an upgraded session is told through
    // _closeObserver instead, so an idle connection holds no token source, registration or callback node.
    private CancellationTokenSource? _closed;
    private int _closeSignalled;
    private ITransportCloseObserver? _closeObserver;

    public SocketConnection(Socket socket, long id, PipeOptions inputOptions, PipeOptions outputOptions)
    {
        _socket = socket;
        Id = id;
        RemoteEndPoint = socket.RemoteEndPoint as IPEndPoint;
        LocalEndPoint = socket.LocalEndPoint as IPEndPoint;
        _input = new Pipe(inputOptions);
        _output = new Pipe(outputOptions);
        _outputWriter = new OutputWriter(this, _output.Writer);
    }

    public long Id { get; }
    public IPEndPoint? RemoteEndPoint { get; }
    public IPEndPoint? LocalEndPoint { get; }
    public PipeReader Input => _input.Reader;
    public PipeWriter Output => _outputWriter;
    public bool IsAborted => Volatile.Read(ref _aborted) != 0;
    /// <summary>
    /// Fires when the peer is gone or the connection is aborted, even while nobody reads the input pipe (for
    /// example a session parked at its in-flight limit): the layers above use it to cancel their work.
    /// </summary>
    public CancellationToken ConnectionClosed
    {
        get
        {
            var cts = _closed;
            if (cts is null)
            {
                var created = new CancellationTokenSource();
                cts = Interlocked.CompareExchange(ref _closed, created, null) ?? created;
                // Closed before the source existed: SignalClosed found nothing to cancel.
                if (Volatile.Read(ref _closeSignalled) != 0) CancelQuietly(cts);
            }
            return cts.Token;
        }
    }

    /// <summary>
    /// Sets the one observer told when the peer is gone or the connection is aborted (the session, once upgraded); told
    /// at once when that has happened already. May be told twice in that race: it must be idempotent.
    /// </summary>
    public void ObserveClose(ITransportCloseObserver observer)
    {
        Volatile.Write(ref _closeObserver, observer);
        if (Volatile.Read(ref _closeSignalled) != 0) observer.OnTransportClosed();
    }
    /// <summary>Why the connection was aborted, for the log.</summary>
    public string? AbortReason { get; private set; }
    /// <summary>Completes when the send loop has written everything and shut down the sending side.</summary>
    public Task SendCompleted => _sendTask;
    private long _bytesReceived, _bytesSent;
    private long _lastReceiveTicks = Environment.TickCount64;
    private ISendObserver? _sendObserver;
    private int _receivePaused;
    /// <summary>Bytes read from the socket so far.</summary>
    public long BytesReceived => Volatile.Read(ref _bytesReceived);
    /// <summary>Bytes written to the socket so far.</summary>
    public long BytesSent => Volatile.Read(ref _bytesSent);
    /// <summary>True while the receive loop is not reading the socket because the input pipe is full.</summary>
    public bool IsReceivePaused => Volatile.Read(ref _receivePaused) != 0;
    /// <summary>Environment.TickCount64 of the last bytes received: the heartbeat's proof of life.</summary>
    public long LastReceiveTicks => Volatile.Read(ref _lastReceiveTicks);

    /// <summary>Sets the one observer told after each write to the socket (the WebSocket session, once upgraded).</summary>
    public void ObserveSends(ISendObserver observer) => Volatile.Write(ref _sendObserver, observer);

    public void Start()
    {
        _receiveTask = ReceiveLoopAsync();
        _sendTask = SendLoopAsync();
    }

    private async Task ReceiveLoopAsync()
    {
        var writer = _input.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                // Zero-byte read: park until data is there without holding a buffer.
                await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                var memory = writer.GetMemory(MinReceiveBuffer);
                int n = await _socket.ReceiveAsync(memory, SocketFlags.None).ConfigureAwait(false);
                if (n == 0) break;
                writer.Advance(n);
                Interlocked.Add(ref _bytesReceived, n);
                Volatile.Write(ref _lastReceiveTicks, Environment.TickCount64);
                var flushing = writer.FlushAsync();
                FlushResult flush;
                if (flushing.IsCompleted) flush = flushing.Result;
                else
                {
                    // The session is behind (its input pipe is full): this loop stops reading the socket, so TCP
                    // pushes back on the client. Exposed so tests can see the push-back on the server's side.
                    Volatile.Write(ref _receivePaused, 1);
                    flush = await flushing.ConfigureAwait(false);
                    Volatile.Write(ref _receivePaused, 0);
                }
                if (flush.IsCompleted || flush.IsCanceled) break;
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Reset by the peer or aborted by us: the reader sees the end of input either way.
            if (!IsAborted) error = new ConnectionResetException(ex.Message, ex);
        }
        catch (Exception ex)
        {
            error = ex;
        }
        finally
        {
            await writer.CompleteAsync(error).ConfigureAwait(false);
            SignalClosed();
        }
    }

    private void SignalClosed()
    {
        if (Interlocked.Exchange(ref _closeSignalled, 1) != 0) return;
        Volatile.Read(ref _closeObserver)?.OnTransportClosed();
        if (Volatile.Read(ref _closed) is { } cts) CancelQuietly(cts);
    }

    private static void CancelQuietly(CancellationTokenSource cts)
    {
        try { cts.Cancel(); }
        catch (AggregateException) { } // a callback of the layer above threw: its own work, logged there if at all
        catch (ObjectDisposedException) { } // signalled after disposal: nobody is listening any more
    }

    private async Task SendLoopAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                if (result.IsCanceled) break;
                if (!buffer.IsEmpty)
                {
                    await SendAsync(buffer).ConfigureAwait(false);
                    Interlocked.Add(ref _bytesSent, buffer.Length);
                    // After the bytes are in the kernel: a direct send that sees zero comes after them on the wire.
                    Interlocked.Add(ref _pipeUnsent, -buffer.Length);
                    Volatile.Read(ref _sendObserver)?.OnSent();
                }
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted) break;
            }
            // Everything written: send FIN so the peer sees a clean end after our last frame.
            if (!IsAborted) _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            // Completing the reader also releases a writer parked on a full pipe: its flush reports IsCompleted.
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private ValueTask<int> SendAsync(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsSingleSegment) return _socket.SendAsync(buffer.First, SocketFlags.None);
        return new ValueTask<int>(SendSegmentsAsync(buffer));
    }

    private Task<int> SendSegmentsAsync(in ReadOnlySequence<byte> buffer)
    {
        var list = _sendSegments ??= new List<ArraySegment<byte>>(8);
        list.Clear();
        foreach (var segment in buffer)
        {
            if (!MemoryMarshal.TryGetArray(segment, out var array))
                array = new ArraySegment<byte>(segment.ToArray());
            list.Add(array);
        }
        return _socket.SendAsync(list, SocketFlags.None);
    }

    /// <summary>Tears the connection down now (idempotent): pending reads end, unsent data is lost.</summary>
    public void Abort(string reason)
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0) return;
        AbortReason = reason;
        // A socket the peer reset (or one already disposed) refuses the shutdown: it is being disposed next anyway.
        try { _socket.Shutdown(SocketShutdown.Both); } catch { }
        _socket.Dispose();
        _output.Reader.CancelPendingRead();
        // The receive loop may be parked on a full input pipe that nobody reads: release it.
        _input.Writer.CancelPendingFlush();
        SignalClosed();
    }

    /// <summary>Waits for both loops and releases the socket and pipes. Call once, after the application has stopped using the pipes.</summary>
    public async ValueTask DisposeAsync()
    {
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        Abort(AbortReason ?? "disposed");
        // Both loops catch and report their own failures (the reader sees them); what could still surface here is the
        // teardown racing them, which changes nothing for a connection being released.
        try { await _receiveTask.ConfigureAwait(false); } catch { }
        try { await _sendTask.ConfigureAwait(false); } catch { }
    }
}
