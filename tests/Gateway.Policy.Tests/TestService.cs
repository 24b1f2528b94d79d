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

    /// <summary>Takes 3 s but declares a 200 ms deadline.</summary>
    [Rpc("slow", TimeoutMs = 200)]
    public async Task<string> Slow(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(3000, cancellationToken);
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
