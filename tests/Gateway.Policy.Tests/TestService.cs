using System.Runtime.CompilerServices;

namespace Gateway.Policy.Tests;

public sealed class EchoMsg
{
    public string? Text { get; set; }
    public long? N { get; set; }
}

public sealed class WaitInput
{
    /// <summary>How long the handler waits (Task.Delay with its token).</summary>
    public int Ms { get; set; }
    /// <summary>Length of the padding string returned (to fill the send buffer with replies).</summary>
    public int Size { get; set; }
}

public sealed record WaitResult(int Ms, string Pad);

public sealed class FastInput
{
    /// <summary>Characters of padding in each item (default 8 KiB).</summary>
    public int Size { get; set; } = 8192;
}

public sealed record FastItem(long Seq, string Pad);

public sealed class BurstInput
{
    public int N { get; set; }
    /// <summary>Characters of padding per item; 0: varied, so the frames use all three header sizes (7, 130 and 70,000 characters).</summary>
    public int Size { get; set; }
    /// <summary>The item index at which the handler throws (RpcException ABORTED); -1: never.</summary>
    public int FailAt { get; set; } = -1;
    /// <summary>Reports progress (the index) before every item whose index is a multiple of this; 0: never.</summary>
    public int ProgressEvery { get; set; }
}

public sealed record BurstItem(long Seq, string Pad);

/// <summary>
/// The procedures the policy tests call, served in-process (no plugin folder). One instance per test gateway,
/// so its counters describe exactly one test.
/// </summary>
[RpcService("t")]
public sealed class TestService
{
    private int _running;
    private int _maxRunning;
    private int _waitsStarted;
    private int _waitsCompleted;
    private long _produced;

    /// <summary>t/wait handlers running right now.</summary>
    public int Running => Volatile.Read(ref _running);
    /// <summary>Most t/wait handlers ever running at once.</summary>
    public int MaxRunning => Volatile.Read(ref _maxRunning);
    public int WaitsStarted => Volatile.Read(ref _waitsStarted);
    /// <summary>t/wait handlers whose delay ended (their reply is then on its way, or waiting for send room).</summary>
    public int WaitsCompleted => Volatile.Read(ref _waitsCompleted);
    /// <summary>t/fast items produced (handed to the gateway), over all subscriptions.</summary>
    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>Completes when a t/block handler starts.</summary>
    public TaskCompletionSource BlockStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>Completes when a t/block handler's token fires.</summary>
    public TaskCompletionSource BlockCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>Completes when a t/slow handler's token fires.</summary>
    public TaskCompletionSource SlowCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _napsStarted, _napsCancelled;
    /// <summary>t/nap notification handlers started.</summary>
    public int NapsStarted => Volatile.Read(ref _napsStarted);
    /// <summary>t/nap notification handlers whose token fired.</summary>
    public int NapsCancelled => Volatile.Read(ref _napsCancelled);
    /// <summary>Completes when a t/hold subscription's token fires.</summary>
    public TaskCompletionSource HoldCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Synchronous: returns its input unchanged (no input → an empty message).</summary>
    [Rpc("echo")]
    public EchoMsg Echo(EchoMsg? input) => input ?? new EchoMsg();

    /// <summary>Synchronous, a second procedure for per-procedure rate limits.</summary>
    [Rpc("other")]
    public int Other() => 42;

    /// <summary>Asynchronous: waits <c>ms</c> (honouring its token) and returns <c>size</c> characters of padding.</summary>
    [Rpc("wait")]
    public async Task<WaitResult> Wait(WaitInput input, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _waitsStarted);
        int now = Interlocked.Increment(ref _running);
        int max;
        while (now > (max = Volatile.Read(ref _maxRunning)) && Interlocked.CompareExchange(ref _maxRunning, now, max) != max) { }
        try
        {
            await Task.Delay(input.Ms, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
        Interlocked.Increment(ref _waitsCompleted);
        return new WaitResult(input.Ms, new string('w', input.Size));
    }

    /// <summary>Waits on its token until it is cancelled, and records that it was.</summary>
    [Rpc("block")]
    public async Task<string> Block(CancellationToken cancellationToken)
    {
        BlockStarted.TrySetResult();
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            BlockCancelled.TrySetResult();
            throw;
        }
        return "unreachable";
    }

    /// <summary>Never finishes on its own, and declares a 200 ms deadline: only the deadline's cancellation ends it.</summary>
    [Rpc("slow", TimeoutMs = 200)]
    public async Task<string> Slow(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            SlowCancelled.TrySetResult();
            throw;
        }
        return "late";
    }

    /// <summary>Waits <c>ms</c> with no deadline at all ([Rpc(TimeoutMs = -1)]), whatever Timeouts:Request says.</summary>
    [Rpc("patient", TimeoutMs = -1)]
    public async Task<string> Patient(WaitInput input, CancellationToken cancellationToken)
    {
        await Task.Delay(input.Ms, cancellationToken);
        return "done";
    }

    /// <summary>A notification handler that waits on its token until cancelled (a fire-and-forget call past any deadline).</summary>
    [Notification("nap")]
    public async Task Nap(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _napsStarted);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref _napsCancelled);
            throw;
        }
    }

    private static readonly string s_small = new('s', 7), s_medium = new('m', 130), s_large = new('l', 70_000);
    private long _burstProduced;
    /// <summary>t/burst items produced (handed to the gateway), over all subscriptions.</summary>
    public long BurstProduced => Interlocked.Read(ref _burstProduced);
    /// <summary>Completes when a t/burst handler ends (finishes, fails or is cancelled).</summary>
    public TaskCompletionSource BurstEnded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The padding of burst item <paramref name="i"/>: <paramref name="size"/> characters, or varied over the header sizes.</summary>
    public static string BurstPad(long i, int size, string? fixedPad) =>
        fixedPad ?? (i % 50 == 7 ? s_large : i % 3 == 0 ? s_medium : s_small);

    /// <summary>
    /// N items without ever waiting (each MoveNextAsync completes synchronously): the burst the gateway batches.
    /// Optionally fails at an index or reports progress between items.
    /// </summary>
    [Subscription("burst")]
    public async IAsyncEnumerable<BurstItem> Burst(BurstInput input, RpcContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? pad = input.Size > 0 ? new string('f', input.Size) : null;
        try
        {
            for (int i = 0; i < input.N; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (i == input.FailAt) throw new RpcException(ErrorCode.Aborted, "burst failed at " + i);
                if (input.ProgressEvery > 0 && i % input.ProgressEvery == 0) await context.ReportProgressAsync(i);
                Interlocked.Increment(ref _burstProduced);
                yield return new BurstItem(i, BurstPad(i, input.Size, pad));
            }
        }
        finally
        {
            BurstEnded.TrySetResult();
        }
    }

    /// <summary>Items of <c>size</c> characters as fast as possible (a Task.Yield between items), until cancelled.</summary>
    [Subscription("fast")]
    public async IAsyncEnumerable<FastItem> Fast(FastInput? input, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string pad = new('f', input?.Size ?? 8192);
        for (long seq = 0; !cancellationToken.IsCancellationRequested; seq++)
        {
            Interlocked.Increment(ref _produced);
            yield return new FastItem(seq, pad);
            await Task.Yield();
        }
    }

    /// <summary>One item ("ready"), then waits on its token: a stream that only ends by cancel, disconnect or shutdown.</summary>
    [Subscription("hold")]
    public async IAsyncEnumerable<string> Hold([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return "ready";
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            HoldCancelled.TrySetResult();
            throw;
        }
    }

    /// <summary>Fails synchronously with a message that must never reach the client.</summary>
    [Rpc("throw")]
    public string Throw() => throw new InvalidOperationException("secret-123");

    /// <summary>Fails after an await with a message that must never reach the client.</summary>
    [Rpc("throw-async")]
    public async Task<string> ThrowAsync()
    {
        await Task.Yield();
        throw new InvalidOperationException("secret-123 (async) at C:\\srv\\Gateway\\Secret.cs:line 42");
    }
}
