using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Gateway.Protocol.WebSockets;
using Gateway.Server.Transport;
using Gateway.Server.WebSockets;
using Gateway.Tests.Shared;

namespace Gateway.Server.Tests;

/// <summary>
/// The outbox's direct send over real loopback sockets: frames go straight to the kernel while the output pipe holds
/// nothing unsent; when the kernel's buffers are full the rest spills into the pipe and the send loop, and nothing ever
/// overtakes what was queued before it. Byte counts (sent, sent directly, accepted) stay exact, and the close still
/// ends with FIN after the last frame. The client's receive buffer and the server's send buffer are made small so a
/// burst of a few hundred KiB fills them.
/// </summary>
public sealed class DirectSendTests : IAsyncDisposable
{
    private const int PayloadSize = 1000;
    private static readonly int FrameSize = FrameWriter.HeaderSize(PayloadSize) + PayloadSize;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private Socket? _client;
    private SocketConnection? _connection;

    private async Task<(SocketConnection Connection, Outbox Outbox, NetworkStream Client)> ConnectAsync(int pipePauseBytes = 4 * 1024 * 1024)
    {
        _listener.Start();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        var connecting = _client.ConnectAsync((IPEndPoint)_listener.LocalEndpoint);
        var server = await _listener.AcceptSocketAsync();
        await connecting;
        server.SendBufferSize = 4096;
        var pipe = new PipeOptions(pauseWriterThreshold: pipePauseBytes, resumeWriterThreshold: pipePauseBytes / 2, useSynchronizationContext: false);
        _connection = new SocketConnection(server, 1, pipe, pipe);
        _connection.Start();
        return (_connection, new Outbox(_connection.Output, null, _connection), new NetworkStream(_client, ownsSocket: false));
    }

    private static PooledFrame Frame(int seq)
    {
        var payload = new byte[PayloadSize];
        BinaryPrimitives.WriteInt32BigEndian(payload, seq);
        for (int i = 4; i < payload.Length; i++) payload[i] = (byte)(seq + i);
        return PooledFrame.Create(Opcode.Binary, payload);
    }

    /// <summary>Reads one unmasked server frame and checks it is frame <paramref name="seq"/>, byte for byte.</summary>
    private static async Task ExpectFrameAsync(NetworkStream client, int seq)
    {
        var frame = new byte[FrameSize];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ReadExactlyAsync(frame, timeout.Token);
        int h = FrameWriter.HeaderSize(PayloadSize);
        Assert.Equal(0x80 | (int)Opcode.Binary, frame[0]);
        int got = BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(h));
        Assert.True(got == seq, $"expected frame {seq}, got {got}: reordered or lost");
        for (int i = 4; i < PayloadSize; i++)
        {
            if (frame[h + i] != (byte)(seq + i)) Assert.Fail($"frame {seq}: byte {i} corrupted");
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_burst_into_a_full_kernel_buffer_spills_into_the_pipe_and_arrives_complete_in_order_with_exact_byte_counts()
    {
        var (connection, outbox, client) = await ConnectAsync();

        // An idle connection: the frame goes straight to the socket, not through the send loop.
        outbox.Enqueue(Frame(0), deferDrain: false);
        Assert.True(await Waits.WaitUntilAsync(() => connection.BytesSent == FrameSize), $"sent {connection.BytesSent}");
        Assert.Equal(FrameSize, connection.BytesSentDirect);
        await ExpectFrameAsync(client, 0);

        // The client stops reading; a burst far larger than both kernel buffers. The kernel takes what fits directly,
        // the rest goes through the pipe, and so does every frame queued while the pipe holds something.
        const int Burst = 400;
        for (int i = 1; i <= Burst; i++) outbox.Enqueue(Frame(i), deferDrain: false);
        Assert.True(await Waits.WaitUntilAsync(() => outbox.PendingBytes == 0), $"pending {outbox.PendingBytes}");
        Assert.False(connection.CanSendDirect, "the kernel took a 400 KB burst although the client does not read");
        long total = (long)(Burst + 1) * FrameSize;
        Assert.True(connection.BytesSent < total, $"sent {connection.BytesSent} of {total}");
        long directBeforeResume = connection.BytesSentDirect;
        Assert.True(directBeforeResume > FrameSize, "nothing of the burst went directly");

        // Queued behind the spilled bytes: must not overtake them.
        const int Late = 20;
        for (int i = Burst + 1; i <= Burst + Late; i++) outbox.Enqueue(Frame(i), deferDrain: false);
        total += Late * FrameSize;
        // Drained while the client still does not read, so into the pipe behind the spilled bytes.
        Assert.True(await Waits.WaitUntilAsync(() => outbox.PendingBytes == 0), $"pending {outbox.PendingBytes}");
        Assert.Equal(directBeforeResume, connection.BytesSentDirect);

        for (int i = 1; i <= Burst + Late; i++) await ExpectFrameAsync(client, i);
        Assert.True(await Waits.WaitUntilAsync(() => connection.BytesSent == total), $"sent {connection.BytesSent} of {total}");
        Assert.Equal(outbox.AcceptedBytes, connection.BytesSent);
        Assert.Equal(directBeforeResume, connection.BytesSentDirect); // nothing went direct while the pipe held bytes
        Assert.True(await Waits.WaitUntilAsync(() => connection.CanSendDirect), "the pipe never emptied");

        // Drained: direct again, and after everything before it.
        outbox.Enqueue(Frame(Burst + Late + 1), deferDrain: false);
        total += FrameSize;
        Assert.True(await Waits.WaitUntilAsync(() => connection.BytesSent == total), $"sent {connection.BytesSent} of {total}");
        Assert.Equal(directBeforeResume + FrameSize, connection.BytesSentDirect);
        await ExpectFrameAsync(client, Burst + Late + 1);

        // Completing the outbox ends TCP after the last byte.
        await outbox.CompleteAsync().WaitAsync(TimeSpan.FromSeconds(30));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.Equal(0, await client.ReadAsync(new byte[1], timeout.Token));
        Assert.Equal(total, connection.BytesSent);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_close_frame_is_the_last_thing_sent_whether_it_goes_direct_or_behind_spilled_bytes()
    {
        var (connection, outbox, client) = await ConnectAsync();
        const int Burst = 300;
        for (int i = 0; i < Burst; i++) outbox.Enqueue(Frame(i), deferDrain: false);
        outbox.Enqueue(PooledFrame.CreateClose(1001, "bye"u8), deferDrain: false);
        // Queued after the close: never sent, counted as discarded so the unsent total is still exact.
        outbox.Enqueue(Frame(Burst), deferDrain: false);
        var completing = outbox.CompleteAsync();

        for (int i = 0; i < Burst; i++) await ExpectFrameAsync(client, i);
        var close = new byte[2 + 2 + 3];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ReadExactlyAsync(close, timeout.Token);
        Assert.Equal(0x80 | (int)Opcode.Close, close[0]);
        Assert.Equal(1001, BinaryPrimitives.ReadUInt16BigEndian(close.AsSpan(2)));
        Assert.Equal(0, await client.ReadAsync(new byte[1], timeout.Token));
        await completing.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal((long)Burst * FrameSize + close.Length, connection.BytesSent);
        Assert.Equal(outbox.AcceptedBytes, connection.BytesSent);
        Assert.True(connection.BytesSentDirect > 0, "nothing went directly");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_direct_send_to_a_peer_that_reset_drops_the_frames_without_throwing_and_the_outbox_still_completes()
    {
        var (connection, outbox, client) = await ConnectAsync();
        outbox.Enqueue(Frame(0), deferDrain: false);
        Assert.True(await Waits.WaitUntilAsync(() => connection.BytesSent == FrameSize));
        await ExpectFrameAsync(client, 0);

        // RST: the next send() fails with ECONNRESET or EPIPE.
        _client!.LingerState = new LingerOption(true, 0);
        _client.Close();
        Assert.True(await Waits.WaitUntilAsync(() => connection.ConnectionClosed.IsCancellationRequested), "the reset was not noticed");
        for (int i = 1; i <= 3; i++) outbox.Enqueue(Frame(i), deferDrain: false);
        Assert.True(await Waits.WaitUntilAsync(() => outbox.PendingBytes == 0), $"pending {outbox.PendingBytes}");
        await outbox.CompleteAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(FrameSize, connection.BytesSent);
        Assert.Equal(FrameSize, connection.BytesSentDirect);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_keepalive_ping_to_an_idle_connection_goes_direct_without_making_the_frame_queue()
    {
        var (connection, outbox, client) = await ConnectAsync();
        Assert.True(outbox.EnqueuePing(0x0102030405060708));
        outbox.Schedule();
        var ping = new byte[10];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ReadExactlyAsync(ping, timeout.Token);
        Assert.Equal("89080102030405060708", Convert.ToHexString(ping));
        // The counters move after send() returns, which may be after the client read the bytes.
        Assert.True(await Waits.WaitUntilAsync(() => outbox.PendingBytes == 0 && connection.BytesSent == 10), $"pending {outbox.PendingBytes}, sent {connection.BytesSent}");
        Assert.Equal(10, connection.BytesSentDirect);
        Assert.False(outbox.HasFrameQueue, "a ping made the frame queue");
        Assert.Equal(outbox.AcceptedBytes, connection.BytesSent);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_pong_owed_for_a_short_ping_goes_direct_without_the_frame_queue_and_every_ping_gets_its_pong_in_order()
    {
        var (connection, outbox, client) = await ConnectAsync();
        Assert.False(outbox.TryEnqueuePong(new byte[9])); // over the inline size: the caller queues a frame
        Assert.True(outbox.TryEnqueuePong([1, 2, 3]));
        outbox.Schedule();
        var pong = new byte[5];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ReadExactlyAsync(pong, timeout.Token);
        Assert.Equal("8A03010203", Convert.ToHexString(pong));
        Assert.True(await Waits.WaitUntilAsync(() => outbox.PendingBytes == 0 && connection.BytesSent == 5), $"pending {outbox.PendingBytes}, sent {connection.BytesSent}");
        Assert.False(outbox.HasFrameQueue, "a pong made the frame queue");
        Assert.Equal(5, connection.BytesSentDirect);

        // Two pings before a drain: the second pong goes to the queue, after the slot's; a pong asked for while frames are
        // queued goes behind them.
        Assert.True(outbox.TryEnqueuePong([4]));
        Assert.False(outbox.TryEnqueuePong([5, 6]));
        outbox.Enqueue(PooledFrame.Create(Opcode.Pong, [5, 6]), deferDrain: true);
        Assert.False(outbox.TryEnqueuePong([]));
        outbox.Enqueue(PooledFrame.Create(Opcode.Pong, []), deferDrain: true);
        outbox.Schedule();
        var three = new byte[3 + 4 + 2];
        await client.ReadExactlyAsync(three, timeout.Token);
        Assert.Equal("8A01048A0205068A00", Convert.ToHexString(three));
        Assert.True(await Waits.WaitUntilAsync(() => outbox.PendingBytes == 0 && connection.BytesSent == 5 + 9), $"pending {outbox.PendingBytes}, sent {connection.BytesSent}");
        Assert.Equal(5 + 9, connection.BytesSent);
        Assert.Equal(outbox.AcceptedBytes, connection.BytesSent);
    }

    [Fact(Timeout = 60_000)]
    public async Task Pings_asked_for_during_a_burst_arrive_whole_between_frames_never_after_the_close_with_exact_byte_counts()
    {
        var (connection, outbox, client) = await ConnectAsync();
        const int Burst = 300, Pings = 200;
        var data = Task.Run(() =>
        {
            for (int i = 0; i < Burst; i++) outbox.Enqueue(Frame(i), deferDrain: false);
        });
        var pings = Task.Run(() =>
        {
            for (long i = 1; i <= Pings; i++)
            {
                outbox.EnqueuePing(i);
                outbox.Schedule();
            }
        });
        await Task.WhenAll(data, pings);
        // Everything asked for so far is drained (pings pending together are one ping), so it precedes the close.
        Assert.True(await Waits.WaitUntilAsync(() => outbox.PendingBytes == 0), $"pending {outbox.PendingBytes}");
        outbox.Enqueue(PooledFrame.CreateClose(1000, default), deferDrain: false);
        outbox.EnqueuePing(999); // asked for after the close was queued: sent before it (the slot goes first) or dropped, never after
        var completing = outbox.CompleteAsync();

        // Read everything up to the FIN and walk it frame by frame.
        var received = new MemoryStream();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await client.CopyToAsync(received, timeout.Token);
        await completing.WaitAsync(TimeSpan.FromSeconds(30));
        var bytes = received.ToArray();
        int at = 0, next = 0, pingsSeen = 0;
        long lastPing = 0;
        bool closed = false;
        while (at < bytes.Length)
        {
            Assert.False(closed, $"{bytes.Length - at} bytes after the close frame");
            byte op = bytes[at];
            if (op == 0x89)
            {
                Assert.Equal(8, bytes[at + 1]);
                long payload = BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(at + 2));
                Assert.True(payload > lastPing && (payload <= Pings || payload == 999), $"ping {payload} after {lastPing}");
                lastPing = payload;
                pingsSeen++;
                at += 10;
            }
            else if (op == (0x80 | (int)Opcode.Binary))
            {
                int got = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(at + FrameWriter.HeaderSize(PayloadSize)));
                Assert.True(got == next, $"expected frame {next}, got {got}");
                next++;
                at += FrameSize;
            }
            else
            {
                Assert.Equal(0x80 | (int)Opcode.Close, op);
                closed = true;
                at += 2 + bytes[at + 1];
            }
        }
        Assert.True(closed, "no close frame");
        Assert.Equal(Burst, next);
        Assert.True(pingsSeen is >= 1 and <= Pings + 1, $"{pingsSeen} pings seen; {bytes.Length} bytes, sent {connection.BytesSent}, accepted {outbox.AcceptedBytes}, first {Convert.ToHexString(bytes.AsSpan(0, 16))}");
        Assert.Equal(bytes.Length, connection.BytesSent);
        Assert.Equal(outbox.AcceptedBytes, connection.BytesSent);
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null) await _connection.DisposeAsync();
        _client?.Dispose();
        _listener.Stop();
    }
}
