using System.Diagnostics;
using System.Threading.Tasks.Sources;
using Gateway.LoadTest.Core;
using Gateway.LoadTest.Protocols;

namespace Gateway.LoadTest.Net;

/// <summary>
/// One request that a connection keeps in flight: its pre-built masked frame (only the 12 id digits are
/// patched per send) and the reusable completion awaited by the virtual user that owns it.
/// </summary>
public sealed class RequestSlot : IValueTaskSource<StepResult>
{
    private ManualResetValueTaskSourceCore<StepResult> _core;
    private readonly int _payloadOffset;
    private readonly int _idOffset;
    private readonly int _stampOffset, _seqOffset;
    private readonly byte[] _idDigits = new byte[WireProtocol.IdWidth];
    private int _seq;

    public RequestSlot(WsConnection connection, int index, RequestTemplate template, bool isStream, int expectedItems)
    {
        if (index >= WireProtocol.MaxSlots) throw new ArgumentOutOfRangeException(nameof(index), "too many requests in flight on one connection");
        Connection = connection;
        Index = index;
        IsStream = isStream;
        ExpectedItems = expectedItems;
        Frame = Frames.BuildMasked(template.IsText ? Frames.OpText : Frames.OpBinary, template.Payload, out _payloadOffset);
        _idOffset = template.IdOffset;
        _stampOffset = template.StampOffset;
        _seqOffset = template.SeqOffset;
        // Completions run the awaiting virtual user inline on the receive loop: it records its latency and
        // queues its next request without a thread hop.
        _core.RunContinuationsAsynchronously = false;
    }

    public WsConnection Connection { get; }
    public int Index { get; }
    public bool IsStream { get; }
    public int ExpectedItems { get; }
    public byte[] Frame { get; }
    public int Seq => Volatile.Read(ref _seq);
    public int ItemsReceived;
    public long StartTimestamp;
    /// <summary>1 while a request is outstanding; whoever swaps it to 0 completes the slot.</summary>
    public int Pending;
    /// <summary>1 while the frame sits in the send queue (it must not be patched then).</summary>
    public int Queued;

    /// <summary>
    /// Prepares the next request: new sequence number patched into the frame, completion reset. A publish
    /// template also gets its send timestamp (the same value as <see cref="StartTimestamp"/>) and the
    /// connection's next publish sequence number patched in.
    /// </summary>
    public void Begin()
    {
        int seq = _seq + 1;
        if (seq >= WireProtocol.SeqModulo) seq = 0;
        WireProtocol.WriteId(_idDigits, WireProtocol.EncodeId(Index, seq));
        Frames.PatchMasked(Frame, _payloadOffset, _idOffset, _idDigits);
        Volatile.Write(ref _seq, seq);
        ItemsReceived = 0;
        _core.Reset();
        long now = Stopwatch.GetTimestamp();
        if (_stampOffset >= 0)
        {
            Span<byte> digits = stackalloc byte[FanoutText.StampWidth];
            WireProtocol.WriteDigits(digits, now);
            Frames.PatchMasked(Frame, _payloadOffset, _stampOffset, digits);
            if (_seqOffset >= 0)
            {
                var seqDigits = digits[..FanoutText.SeqWidth];
                WireProtocol.WriteDigits(seqDigits, Interlocked.Increment(ref Connection.PublishSequence));
                Frames.PatchMasked(Frame, _payloadOffset, _seqOffset, seqDigits);
            }
        }
        StartTimestamp = now;
        Volatile.Write(ref Queued, 1);
        Interlocked.Exchange(ref Pending, 1);
    }

    public ValueTask<StepResult> AsValueTask() => new(this, _core.Version);

    public bool TryComplete(StepResult result)
    {
        if (Interlocked.Exchange(ref Pending, 0) != 1) return false;
        _core.SetResult(result);
        return true;
    }

    StepResult IValueTaskSource<StepResult>.GetResult(short token) => _core.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource<StepResult>.GetStatus(short token) => _core.GetStatus(token);
    void IValueTaskSource<StepResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
