using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Gateway.LoadTest.Core;
using Gateway.LoadTest.Protocols;

namespace Gateway.LoadTest.Net;

/// <summary>Where and how to connect.</summary>
public sealed record ConnectTarget(Uri Url, IPEndPoint EndPoint, WireProtocol Protocol)
{
    /// <summary>Offer permessage-deflate (<see cref="ClientDeflate.Offer"/>); the server may still decline it.</summary>
    public bool Deflate { get; init; }
    public string HostHeader => Url.IsDefaultPort ? Url.Host : $"{Url.Host}:{Url.Port}";
}

public sealed class HandshakeException(string message) : Exception(message);

/// <summary>
/// A minimal RFC 6455 client over a raw socket, built for load: pre-built masked request frames, one
/// receive loop that parses server frames in place and matches replies to <see cref="RequestSlot"/>s by
/// id, and one writer loop that coalesces queued frames into few send calls. No allocation per request
/// in steady state.
/// </summary>
public sealed class WsConnection : IReplySink
{
    private const int MaxMessageBytes = 64 * 1024 * 1024;
    private const int CoalesceBytes = 32 * 1024;
    private static readonly byte[] AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8.ToArray();

    private readonly Socket _socket;
    private readonly WireProtocol _protocol;
    private byte[] _recv;
    private int _recvStart, _recvEnd;
    private byte[]? _fragment;
    private int _fragmentLength;
    private bool _inFragment;

    private readonly object _queueLock = new();
    private SendItem[] _queue = new SendItem[16];
    private int _queueHead, _queueCount;
    private readonly AsyncSignal _sendSignal = new(runContinuationsAsynchronously: false);
    private byte[]? _coalesce;
    private volatile bool _inBatch;
    private volatile int _recvThread;

    private int _closed;
    private int _closedErrorId;
    private bool _closeSent;
    private bool _awaitingHandshake;
    private string? _handshakeError;
    private Task? _receiveTask, _writeTask;
    private ClientDeflate? _deflate;
    private bool _fragmentCompressed;
    private readonly TaskCompletionSource _closedTcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private WsConnection(Socket socket, WireProtocol protocol, byte[] buffer, int start, int end)
    {
        _socket = socket;
        _protocol = protocol;
        _recv = buffer;
        _recvStart = start;
        _recvEnd = end;
    }

    public RequestSlot[] Slots { get; private set; } = [];
    /// <summary>The dialect this connection speaks (a fanout audience may mix the gateway's two formats).</summary>
    public WireProtocol Protocol => _protocol;
    public MeasureWindow Window { get; set; } = MeasureWindow.Never;
    public bool IsClosed => Volatile.Read(ref _closed) != 0;
    public string? CloseReason { get; private set; }
    /// <summary>True when the connection was still open when the client closed it (not lost during the run).</summary>
    public bool ClosedByClient { get; private set; }
    /// <summary>Closed by the server or the network before the client closed it.</summary>
    public bool Lost => IsClosed && !ClosedByClient;
    public Task Closed => _closedTcs.Task;

    // Written by one loop each, read (approximately) by the progress display.
    public long BytesSent;
    public long BytesReceived;
    /// <summary>
    /// permessage-deflate: messages sent/received compressed, and the frame bytes compression saved on them (the frames'
    /// size uncompressed less their size on the wire), so BytesSent + SentBytesSaved is what the wire would have carried.
    /// </summary>
    public long CompressedSent, CompressedReceived, SentBytesSaved, ReceivedBytesSaved;
    /// <summary>True when the server accepted permessage-deflate.</summary>
    public bool Compressed => _deflate is not null;
    /// <summary>Socket reads that returned data (after the upgrade), by the receive loop.</summary>
    public long Reads;
    public long ItemsTotal;
    public long ItemsInWindow;
    public long UnmatchedReplies;
    public long InvalidMessages;
    /// <summary>Per-item latency from the subscribe, recorded by the receive loop (stream scenarios).</summary>
    public LatencyRecorder? ItemLatency { get; set; }
    /// <summary>Fanout: the last publish sequence number stamped into this connection's requests.</summary>
    public long PublishSequence;
    /// <summary>
    /// Server events (<c>{"event":…}</c>, <see cref="WireProtocol.IsEvent"/>) go here, on the receive loop, instead of the protocol's reply
    /// parser (fanout subscribers). Set before <see cref="Start"/>.
    /// </summary>
    public IEventSink? Events { get; set; }

    /// <summary>
    /// Fanout's --inflate-sample: while true, every complete data message goes to <see cref="IEventSink.OnUnreadEvent"/>
    /// as it is on the wire: its frames are still checked (RSV1, opcode, length, fragments) but a compressed one is not
    /// inflated and none is parsed. Set by the scenario between the subscribe and the load (only events arrive then).
    /// </summary>
    public bool CountOnly { get => _countOnly; set => _countOnly = value; }
    private volatile bool _countOnly;
    /// <summary>Compressed messages handed on unread in <see cref="CountOnly"/> mode (their inflated size is unknown).</summary>
    public long CompressedUnread;

    public void AddSlots(RequestTemplate template, int count, bool isStream, int expectedItems)
    {
        var slots = new RequestSlot[Slots.Length + count];
        Slots.CopyTo(slots, 0);
        for (int i = Slots.Length; i < slots.Length; i++) slots[i] = new RequestSlot(this, i, template, isStream, expectedItems);
        Slots = slots;
    }

    // ---------------------------------------------------------------- connect

    /// <summary>TCP connect, HTTP/1.1 upgrade (101 and Sec-WebSocket-Accept verified), then the protocol's own handshake.</summary>
    public static async Task<WsConnection> ConnectAsync(ConnectTarget target, IPAddress? localAddress, int receiveBufferBytes, CancellationToken ct)
    {
        var socket = new Socket(target.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (localAddress is not null)
            {
                if (OperatingSystem.IsLinux())
                {
                    // IP_BIND_ADDRESS_NO_PORT: pick the port at connect time, with the full 4-tuple known.
                    try { socket.SetRawSocketOption(0 /* SOL_IP */, 24, BitConverter.GetBytes(1)); }
                    catch (SocketException) { }
                }
                socket.Bind(new IPEndPoint(localAddress, 0));
            }
            await socket.ConnectAsync(target.EndPoint, ct).ConfigureAwait(false);

            string key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var request = new StringBuilder()
                .Append("GET ").Append(target.Url.PathAndQuery).Append(" HTTP/1.1\r\n")
                .Append("Host: ").Append(target.HostHeader).Append("\r\n")
                .Append("Upgrade: websocket\r\nConnection: Upgrade\r\n")
                .Append("Sec-WebSocket-Key: ").Append(key).Append("\r\n")
                .Append("Sec-WebSocket-Version: 13\r\n");
            if (target.Protocol.SubProtocol is { } sub) request.Append("Sec-WebSocket-Protocol: ").Append(sub).Append("\r\n");
            if (target.Deflate) request.Append("Sec-WebSocket-Extensions: ").Append(ClientDeflate.Offer).Append("\r\n");
            request.Append("User-Agent: Gateway.LoadTest\r\n\r\n");
            var requestBytes = Encoding.ASCII.GetBytes(request.ToString());
            await SendAllAsync(socket, requestBytes, ct).ConfigureAwait(false);

            var buffer = new byte[Math.Max(512, receiveBufferBytes)];
            int length = 0, headerEnd;
            while ((headerEnd = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8)) < 0)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length >= 64 * 1024) throw new HandshakeException("upgrade response headers over 64 KiB");
                    Array.Resize(ref buffer, buffer.Length * 2);
                }
                int n = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, ct).ConfigureAwait(false);
                if (n == 0) throw new HandshakeException(length == 0 ? "server closed the connection during the upgrade" : "server closed the connection in the middle of the upgrade response");
                length += n;
            }
            string? extensions = CheckUpgradeResponse(buffer.AsSpan(0, headerEnd), key, target.Protocol.SubProtocol);
            if (extensions is not null && !target.Deflate)
                throw new HandshakeException($"server answered an extension the client did not offer: '{extensions}'");

            var connection = new WsConnection(socket, target.Protocol, buffer, headerEnd + 4, length)
            {
                BytesSent = requestBytes.Length,
                BytesReceived = headerEnd + 4,
                _deflate = ClientDeflate.FromAnswer(extensions, MaxMessageBytes),
            };
            if (target.Protocol.HandshakeRequest is { } hello)
            {
                connection._awaitingHandshake = true;
                var frame = Frames.BuildMasked(Frames.OpText, hello, out _);
                await SendAllAsync(socket, frame, ct).ConfigureAwait(false);
                connection.BytesSent += frame.Length;
                await connection.ReadHandshakeAsync(ct).ConfigureAwait(false);
            }
            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <returns>The server's Sec-WebSocket-Extensions answer, or null.</returns>
    private static string? CheckUpgradeResponse(ReadOnlySpan<byte> head, string key, string? subProtocol)
    {
        string text = Encoding.Latin1.GetString(head);
        var lines = text.Split("\r\n");
        var status = lines[0].Split(' ', 3);
        if (status.Length < 2 || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal))
            throw new HandshakeException($"not an HTTP response: '{lines[0]}'");
        if (status[1] != "101")
            throw new HandshakeException($"upgrade refused: HTTP {status[1]} {(status.Length > 2 ? status[2] : "")}".TrimEnd());
        string? accept = null, upgrade = null, extensions = null;
        foreach (var line in lines.AsSpan(1))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0) continue;
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Sec-WebSocket-Accept", StringComparison.OrdinalIgnoreCase)) accept = value;
            else if (name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase)) upgrade = value;
            else if (name.Equals("Sec-WebSocket-Extensions", StringComparison.OrdinalIgnoreCase)) extensions = extensions is null ? value : extensions + ", " + value;
        }
        if (!string.Equals(upgrade, "websocket", StringComparison.OrdinalIgnoreCase))
            throw new HandshakeException($"101 without 'Upgrade: websocket' (got '{upgrade}')");
        var expected = Convert.ToBase64String(SHA1.HashData([.. Encoding.ASCII.GetBytes(key), .. AcceptGuid]));
        if (accept != expected)
            throw new HandshakeException($"wrong Sec-WebSocket-Accept '{accept}' (expected '{expected}')");
        _ = subProtocol; // the gateway may answer without echoing it when it is the default
        return extensions;
    }

    private async Task ReadHandshakeAsync(CancellationToken ct)
    {
        while (true)
        {
            ProcessFrames();
            if (_handshakeError is not null) throw new HandshakeException(_handshakeError);
            if (!_awaitingHandshake) return;
            if (IsClosed) throw new HandshakeException("connection closed during the protocol handshake: " + CloseReason);
            EnsureReceiveSpace();
            int n = await _socket.ReceiveAsync(_recv.AsMemory(_recvEnd), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) throw new HandshakeException("server closed the connection during the protocol handshake");
            BytesReceived += n;
            _recvEnd += n;
        }
    }

    private static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        while (!data.IsEmpty)
        {
            int n = await socket.SendAsync(data, SocketFlags.None, ct).ConfigureAwait(false);
            data = data[n..];
        }
    }

    /// <summary>
    /// Before <see cref="Start"/>: sends one request (id slot 0, sequence 0, which no slot uses before it
    /// wraps) and returns the first data message the server sends back, to check what the server answers.
    /// </summary>
    public async Task<byte[]> ProbeAsync(RequestTemplate template, CancellationToken ct)
    {
        var payload = (byte[])template.Payload.Clone();
        WireProtocol.WriteId(payload.AsSpan(template.IdOffset), WireProtocol.EncodeId(0, 0));
        var frame = Frames.BuildMasked(template.IsText ? Frames.OpText : Frames.OpBinary, payload, out _);
        await SendAllAsync(_socket, frame, ct).ConfigureAwait(false);
        BytesSent += frame.Length;
        _probe = [];
        try
        {
            while (true)
            {
                ProcessFrames();
                if (_probe is { Length: > 0 } answer) return answer;
                if (IsClosed) throw new HandshakeException("connection closed before the first reply: " + CloseReason);
                EnsureReceiveSpace();
                int n = await _socket.ReceiveAsync(_recv.AsMemory(_recvEnd), SocketFlags.None, ct).ConfigureAwait(false);
                if (n == 0) throw new HandshakeException("server closed the connection before the first reply");
                BytesReceived += n;
                _recvEnd += n;
            }
        }
        finally
        {
            _probe = null;
            // Whatever the probe triggered on the wire (pongs) leaves with the writer once started.
        }
    }

    private byte[]? _probe;
    /// <summary>Stopwatch timestamp of the socket read whose bytes are being processed (only kept with an <see cref="Events"/> sink).</summary>
    private long _receivedAt;

    /// <summary>Starts the receive and writer loops.</summary>
    public void Start()
    {
        _writeTask = WriteLoopAsync();
        _receiveTask = ReceiveLoopAsync();
    }

    // ---------------------------------------------------------------- requests

    /// <summary>Sends the slot's request; the value task completes with its terminal reply.</summary>
    public ValueTask<StepResult> Execute(RequestSlot slot)
    {
        if (Volatile.Read(ref _closed) != 0) return new ValueTask<StepResult>(StepResult.FailAndStop(_closedErrorId));
        if (Volatile.Read(ref slot.Queued) != 0)
            return new ValueTask<StepResult>(StepResult.Fail(s_stillQueued));
        slot.Begin();
        var task = slot.AsValueTask();
        // A close that raced with Begin may have missed this slot: complete it here then.
        if (Volatile.Read(ref _closed) != 0)
        {
            slot.Queued = 0;
            slot.TryComplete(StepResult.FailAndStop(_closedErrorId));
            return task;
        }
        Enqueue(new SendItem(slot, default));
        return task;
    }

    /// <summary>Fails requests outstanding for longer than <paramref name="timeoutTicks"/>; returns how many.</summary>
    public int ExpireRequests(long now, long timeoutTicks, int timeoutErrorId)
    {
        int expired = 0;
        foreach (var slot in Slots)
            if (Volatile.Read(ref slot.Pending) == 1 && now - slot.StartTimestamp > timeoutTicks && slot.TryComplete(StepResult.Fail(timeoutErrorId)))
                expired++;
        return expired;
    }

    /// <summary>A keep-alive: the protocol's own ping message, or a WebSocket ping frame.</summary>
    public void SendKeepAlive()
    {
        if (IsClosed) return;
        var frame = _protocol.KeepAliveMessage is { } ping
            ? Frames.BuildMasked(Frames.OpText, ping, out _)
            : Frames.BuildMasked(Frames.OpPing, [], out _);
        Enqueue(new SendItem(null, frame));
    }

    private readonly record struct SendItem(RequestSlot? Slot, ReadOnlyMemory<byte> Control)
    {
        public ReadOnlyMemory<byte> Frame => Slot is { } s ? s.Frame : Control;
    }

    private void Enqueue(SendItem item)
    {
        lock (_queueLock)
        {
            if (_queueCount == _queue.Length)
            {
                var bigger = new SendItem[_queue.Length * 2];
                for (int i = 0; i < _queueCount; i++) bigger[i] = _queue[(_queueHead + i) % _queue.Length];
                _queue = bigger;
                _queueHead = 0;
            }
            _queue[(_queueHead + _queueCount) % _queue.Length] = item;
            _queueCount++;
        }
        // Inside a receive batch on the receive loop's own thread the signal waits for the batch's end,
        // so that the requests that N replies trigger leave in one send.
        if (_inBatch && _recvThread == Environment.CurrentManagedThreadId) return;
        _sendSignal.Set();
    }

    private bool TryDequeue(out SendItem item, out bool more)
    {
        lock (_queueLock)
        {
            if (_queueCount == 0) { item = default; more = false; return false; }
            item = _queue[_queueHead];
            _queue[_queueHead] = default;
            _queueHead = (_queueHead + 1) % _queue.Length;
            _queueCount--;
            more = _queueCount > 0;
            return true;
        }
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            while (true)
            {
                await _sendSignal.WaitAsync();
                bool drained = false;
                while (!drained)
                {
                    int used = 0;
                    while (true)
                    {
                        if (!TryDequeue(out var item, out bool more)) { drained = true; break; }
                        var frame = item.Frame;
                        if (_deflate is { } deflate) frame = CompressForSend(deflate, frame);
                        if (used == 0 && !more || frame.Length > CoalesceBytes / 2)
                        {
                            // Alone or large: straight from the slot's frame, no copy.
                            if (used > 0) { await SendCoalescedAsync(used); used = 0; }
                            await SendFrameAsync(frame);
                            if (item.Slot is { } s) Volatile.Write(ref s.Queued, 0);
                            continue;
                        }
                        _coalesce ??= new byte[CoalesceBytes];
                        if (frame.Length > _coalesce.Length - used) { await SendCoalescedAsync(used); used = 0; }
                        frame.Span.CopyTo(_coalesce.AsSpan(used));
                        used += frame.Length;
                        if (item.Slot is { } slot) Volatile.Write(ref slot.Queued, 0);
                    }
                    if (used > 0) await SendCoalescedAsync(used);
                }
                if (Volatile.Read(ref _closed) != 0) return;
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
            MarkClosed("send failed: " + ex.Message);
        }
    }

    // The compressed frame lives in the codec's buffer until the next call: sent or copied before the next dequeue.
    private ReadOnlyMemory<byte> CompressForSend(ClientDeflate deflate, ReadOnlyMemory<byte> frame)
    {
        var compressed = deflate.Compress(frame);
        if (compressed.Length == frame.Length) return frame;
        CompressedSent++;
        SentBytesSaved += frame.Length - compressed.Length;
        return compressed;
    }

    private ValueTask SendCoalescedAsync(int length) => SendFrameAsync(_coalesce.AsMemory(0, length));

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendFrameAsync(ReadOnlyMemory<byte> data)
    {
        // ValueTask<int> from Socket.SendAsync is backed by the socket's cached event args, and this
        // method's own state machine is pooled: no allocation even when a send has to wait.
        while (!data.IsEmpty)
        {
            int n = await _socket.SendAsync(data, SocketFlags.None);
            BytesSent += n;
            data = data[n..];
        }
    }

    // ---------------------------------------------------------------- receive

    private async Task ReceiveLoopAsync()
    {
        string reason = "closed";
        try
        {
            while (Volatile.Read(ref _closed) == 0 || _closeSent)
            {
                if (_recvStart < _recvEnd) ProcessBatch();
                if (Volatile.Read(ref _closed) != 0 && !_closeSent) break;
                EnsureReceiveSpace();
                int n = await _socket.ReceiveAsync(_recv.AsMemory(_recvEnd), SocketFlags.None);
                if (n == 0) { reason = "server closed the TCP connection"; break; }
                // One clock read per socket read, not per event: what one read returns arrived together.
                if (Events is not null) _receivedAt = Stopwatch.GetTimestamp();
                BytesReceived += n;
                Reads++;
                _recvEnd += n;
            }
            if (CloseReason is not null) reason = CloseReason;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
            reason = ex is ObjectDisposedException ? "disposed" : "receive failed: " + ex.Message;
        }
        MarkClosed(reason);
        _sendSignal.Set();
        if (_writeTask is { } writer) await Task.WhenAny(writer, Task.Delay(2000));
        _socket.Dispose();
        if (_writeTask is null || _writeTask.IsCompleted) _deflate?.Dispose();
        _closedTcs.TrySetResult();
    }

    private void ProcessBatch()
    {
        _recvThread = Environment.CurrentManagedThreadId;
        _inBatch = true;
        try
        {
            ProcessFrames();
        }
        finally
        {
            _inBatch = false;
            if (Volatile.Read(ref _queueCount) > 0) _sendSignal.Set();
        }
    }

    private void EnsureReceiveSpace()
    {
        if (_recvStart == _recvEnd) _recvStart = _recvEnd = 0;
        if (_recv.Length - _recvEnd >= Math.Min(4096, _recv.Length / 2)) return;
        if (_recvStart > 0)
        {
            Buffer.BlockCopy(_recv, _recvStart, _recv, 0, _recvEnd - _recvStart);
            _recvEnd -= _recvStart;
            _recvStart = 0;
        }
        if (_recvEnd == _recv.Length) Array.Resize(ref _recv, _recv.Length * 2);
    }

    private void ProcessFrames()
    {
        while (true)
        {
            var span = _recv.AsSpan(_recvStart, _recvEnd - _recvStart);
            if (span.Length < 2) return;
            byte b0 = span[0], b1 = span[1];
            bool fin = (b0 & 0x80) != 0;
            int opcode = b0 & 0x0F;
            if ((b1 & 0x80) != 0) { ProtocolError("server sent a masked frame"); return; }
            // RSV1 marks a compressed message, on its first frame only (RFC 7692 §6).
            bool compressed = (b0 & 0x40) != 0;
            if ((b0 & 0x30) != 0 || compressed && (_deflate is null || opcode is not (Frames.OpText or Frames.OpBinary)))
            { ProtocolError(_deflate is null ? "server set reserved bits (no extension was negotiated)" : "server set reserved bits on a control or continuation frame"); return; }
            long length = b1 & 0x7F;
            int header = 2;
            if (length == 126)
            {
                if (span.Length < 4) return;
                length = BinaryPrimitives.ReadUInt16BigEndian(span[2..]);
                header = 4;
            }
            else if (length == 127)
            {
                if (span.Length < 10) return;
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(span[2..]);
                header = 10;
            }
            if (length > MaxMessageBytes) { ProtocolError($"server frame of {length} bytes is over the client's {MaxMessageBytes} limit"); return; }
            long total = header + length;
            if (span.Length < total)
            {
                if (total > _recv.Length - _recvStart)
                {
                    // Make room for the whole frame: move it to the front, grow if needed.
                    var target = total > _recv.Length ? new byte[Math.Max(total, _recv.Length * 2L)] : _recv;
                    Buffer.BlockCopy(_recv, _recvStart, target, 0, _recvEnd - _recvStart);
                    _recvEnd -= _recvStart;
                    _recvStart = 0;
                    _recv = target;
                }
                return;
            }
            var payload = span.Slice(header, (int)length);
            _recvStart += (int)total;
            HandleFrame(fin, opcode, payload, compressed);
            if (_recvStart == _recvEnd) { _recvStart = _recvEnd = 0; return; }
            if (_handshakeError is not null) return;
        }
    }

    private void HandleFrame(bool fin, int opcode, ReadOnlySpan<byte> payload, bool compressed)
    {
        switch (opcode)
        {
            case Frames.OpText:
            case Frames.OpBinary:
                if (_inFragment) { ProtocolError("new data frame inside a fragmented message"); return; }
                if (fin)
                {
                    if (_countOnly && Events is { } sink) { OnUnread(sink, compressed); return; }
                    if (compressed) OnCompressedMessage(payload, payload.Length + Frames.HeaderLength(payload.Length));
                    else OnMessage(payload);
                    return;
                }
                _inFragment = true;
                _fragmentCompressed = compressed;
                _fragmentLength = 0;
                AppendFragment(payload);
                return;
            case Frames.OpContinuation:
                if (!_inFragment) { ProtocolError("continuation frame without a message"); return; }
                AppendFragment(payload);
                if (fin)
                {
                    _inFragment = false;
                    if (_countOnly && Events is { } sink) { OnUnread(sink, _fragmentCompressed); return; }
                    if (_fragmentCompressed) OnCompressedMessage(_fragment.AsSpan(0, _fragmentLength), _fragmentLength + Frames.HeaderLength(_fragmentLength));
                    else OnMessage(_fragment.AsSpan(0, _fragmentLength));
                }
                return;
            case Frames.OpPing:
                Enqueue(new SendItem(null, Frames.BuildMasked(Frames.OpPong, payload, out _)));
                return;
            case Frames.OpPong:
                return;
            case Frames.OpClose:
                string reason = payload.Length >= 2
                    ? $"server closed {BinaryPrimitives.ReadUInt16BigEndian(payload)}{(payload.Length > 2 ? " " + Encoding.UTF8.GetString(payload[2..]) : "")}"
                    : "server closed";
                if (!_closeSent)
                {
                    _closeSent = true;
                    Enqueue(new SendItem(null, Frames.BuildMasked(Frames.OpClose, payload.Length >= 2 ? payload[..2] : [], out _)));
                }
                MarkClosed(reason);
                return;
            default:
                ProtocolError($"unknown opcode {opcode}");
                return;
        }
    }

    private void AppendFragment(ReadOnlySpan<byte> payload)
    {
        if (_fragmentLength + payload.Length > MaxMessageBytes) { ProtocolError("fragmented message over the client's limit"); return; }
        if (_fragment is null || _fragment.Length < _fragmentLength + payload.Length)
            Array.Resize(ref _fragment, Math.Max(_fragmentLength + payload.Length, (_fragment?.Length ?? 1024) * 2));
        payload.CopyTo(_fragment.AsSpan(_fragmentLength));
        _fragmentLength += payload.Length;
    }

    /// <param name="wireBytes">The message's frame bytes as received (counted as one frame when it came in fragments).</param>
    private void OnCompressedMessage(ReadOnlySpan<byte> payload, int wireBytes)
    {
        if (!_deflate!.TryInflate(payload, out var message, out var error)) { ProtocolError(error!); return; }
        CompressedReceived++;
        // What the same message would have cost as one uncompressed server frame (unmasked: no key).
        ReceivedBytesSaved += message.Length + Frames.HeaderLength(message.Length) - wireBytes;
        OnMessage(message);
    }

    private void OnUnread(IEventSink sink, bool compressed)
    {
        if (compressed) CompressedUnread++;
        sink.OnUnreadEvent(_receivedAt != 0 ? _receivedAt : Stopwatch.GetTimestamp());
    }

    private void OnMessage(ReadOnlySpan<byte> message)
    {
        if (_probe is { Length: 0 } && !_awaitingHandshake)
        {
            // The probe's id is 100000000000 (slot 0, sequence 0): skip pings, events and the like.
            if (message.IndexOf("100000000000"u8) >= 0) _probe = message.ToArray();
            return;
        }
        if (_awaitingHandshake)
        {
            int used = _protocol.ParseHandshakeResponse(message, out var error);
            if (used < 0) { _handshakeError = error; return; }
            _awaitingHandshake = false;
            message = message[used..];
            if (message.IsEmpty) return;
        }
        var events = Events;
        _protocol.Route(message, events, events is null ? 0 : _receivedAt != 0 ? _receivedAt : Stopwatch.GetTimestamp(), this);
    }

    private void ProtocolError(string what)
    {
        _recvStart = _recvEnd = 0;
        if (_awaitingHandshake) _handshakeError = what;
        MarkClosed("protocol error: " + what);
        try { _socket.Dispose(); } catch (ObjectDisposedException) { }
    }

    // ---------------------------------------------------------------- IReplySink

    void IReplySink.OnReply(long id, ReplyKind kind, ReadOnlySpan<byte> errorText)
    {
        if (!WireProtocol.TryDecodeId(id, out int index, out int seq) || (uint)index >= (uint)Slots.Length)
        {
            UnmatchedReplies++;
            return;
        }
        var slot = Slots[index];
        if (slot.Seq != seq || Volatile.Read(ref slot.Pending) == 0)
        {
            UnmatchedReplies++; // a late reply to a request already timed out
            return;
        }
        switch (kind)
        {
            case ReplyKind.Item:
                if (!slot.IsStream) return;
                slot.ItemsReceived++;
                ItemsTotal++;
                long now = Stopwatch.GetTimestamp();
                if (Window.Contains(now))
                {
                    ItemsInWindow++;
                    ItemLatency?.Record(now - slot.StartTimestamp);
                }
                return;
            case ReplyKind.Result:
            case ReplyKind.Done:
                if (slot.IsStream && slot.ItemsReceived != slot.ExpectedItems)
                    slot.TryComplete(StepResult.Fail(s_shortStream));
                else
                    slot.TryComplete(StepResult.Ok);
                return;
            case ReplyKind.Error:
                slot.TryComplete(StepResult.Fail(ErrorTable.Intern("server error: ", errorText)));
                return;
        }
    }

    private static readonly int s_stillQueued = ErrorTable.Intern("previous request on this slot is still waiting to be sent");
    private static readonly int s_shortStream = ErrorTable.Intern("stream ended with fewer items than asked (items dropped for a slow consumer?)");

    void IReplySink.OnProtocolClose(string reason) => MarkClosed(reason);

    void IReplySink.OnInvalidMessage() => InvalidMessages++;

    // ---------------------------------------------------------------- close

    private void MarkClosed(string reason)
    {
        if (Interlocked.CompareExchange(ref _closed, 1, 0) != 0) return;
        CloseReason = reason;
        _closedErrorId = ErrorTable.Intern("connection closed: " + reason);
        foreach (var slot in Slots) slot.TryComplete(StepResult.FailAndStop(_closedErrorId));
        _sendSignal.Set();
    }

    /// <summary>Closing handshake (1000) and then the socket; waits at most <paramref name="timeout"/> for the server's close.</summary>
    public async Task CloseAsync(TimeSpan timeout)
    {
        ClosedByClient = !IsClosed;
        if (_receiveTask is null)
        {
            MarkClosed("closed by the client");
            _socket.Dispose();
            _closedTcs.TrySetResult();
            return;
        }
        if (!IsClosed)
        {
            _closeSent = true;
            Enqueue(new SendItem(null, Frames.BuildMasked(Frames.OpClose, [0x03, 0xE8], out _)));
            MarkClosed("closed by the client");
        }
        if (await Task.WhenAny(_closedTcs.Task, Task.Delay(timeout)) != _closedTcs.Task)
        {
            try { _socket.Dispose(); } catch (ObjectDisposedException) { }
        }
        await _closedTcs.Task.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
    }
}

/// <summary>Receives a connection's server events, one call per message, on its receive loop (never concurrently). Must not allocate.</summary>
public interface IEventSink
{
    /// <param name="receivedAt">Stopwatch timestamp of the socket read that returned the message.</param>
    void OnEvent(ReadOnlySpan<byte> message, long receivedAt);

    /// <summary>A data message counted without being read (<see cref="WsConnection.CountOnly"/>).</summary>
    void OnUnreadEvent(long receivedAt);
}

/// <summary>The measured part of a run, in Stopwatch timestamps.</summary>
public sealed class MeasureWindow
{
    public static readonly MeasureWindow Never = new();
    private long _start = long.MaxValue, _end = long.MaxValue;

    public long Start => Volatile.Read(ref _start);
    public long End => Volatile.Read(ref _end);
    public void Open(long now) => Volatile.Write(ref _start, now);
    public void Close(long now) => Volatile.Write(ref _end, now);
    public bool Contains(long timestamp) => timestamp >= Volatile.Read(ref _start) && timestamp <= Volatile.Read(ref _end);
}
