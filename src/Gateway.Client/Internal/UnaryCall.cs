using System.Threading.Tasks.Sources;

namespace Gateway.Client.Internal;

/// <summary>
/// A request awaiting one answer, as a pooled <see cref="IValueTaskSource{TResult}"/>: a steady-state call allocates
/// neither a Task nor this object. Its timer (for a timeout) is created once per pooled instance and re-armed per call.
/// </summary>
internal sealed class UnaryCall<T> : PendingCall, IValueTaskSource<T>
{
    private const int MaxPooled = 64;
    private static readonly Stack<UnaryCall<T>> Pool = new();

    private ManualResetValueTaskSourceCore<T> _core = new() { RunContinuationsAsynchronously = true };
    private GatewayClient? _client;
    private Timer? _timer;
    private long _deadlineTicks;
    private TimeSpan _timeout;
    private CancellationToken _token;
    private CancellationTokenRegistration _registration;
    private IProgressSink? _progress;

    public static UnaryCall<T> Rent()
    {
        lock (Pool)
        {
            if (Pool.TryPop(out var call)) return call;
        }
        return new UnaryCall<T>();
    }

    public ValueTask<T> Task => new(this, _core.Version);

    public void Start(GatewayClient client, IProgressSink? progress) 
    {
        _client = client;
        _progress = progress;
    }

    /// <summary>Arms the timeout and the caller's cancellation once the call is in the table (they may fire at once).</summary>
    public void Arm(TimeSpan? timeout, CancellationToken token)
    {
        if (timeout is { } t && t > TimeSpan.Zero && t != Timeout.InfiniteTimeSpan)
        {
            _timeout = t;
            _deadlineTicks = Environment.TickCount64 + (long)t.TotalMilliseconds;
            _timer ??= new Timer(static s => ((UnaryCall<T>)s!).OnTimer(), this, Timeout.Infinite, Timeout.Infinite);
            _timer.Change(t, Timeout.InfiniteTimeSpan);
        }
        else _deadlineTicks = 0;
        if (token.CanBeCanceled)
        {
            _token = token;
            _registration = token.UnsafeRegister(static s => ((UnaryCall<T>)s!).OnCancelled(), this);
        }
    }

    private void OnTimer()
    {
        // A callback of this instance's previous use that fired as it completed finds a later (or no) deadline: ignored.
        if (_deadlineTicks == 0 || Environment.TickCount64 < _deadlineTicks) return;
        var client = _client;
        if (client is null || !client.TryTakePending(Id, this)) return;
        client.SendCancelInBackground(Id, Connection);
        Complete(default, new RpcException(RpcErrorCodes.DeadlineExceeded,
            $"no answer within the call's timeout of {_timeout.TotalMilliseconds:0} ms; the call was cancelled", 504, retryable: true));
    }

    private void OnCancelled()
    {
        // As above: a registration of a previous use sees a token that is not cancelled (or the same token, rightly).
        if (!_token.IsCancellationRequested) return;
        var client = _client;
        if (client is null || !client.TryTakePending(Id, this)) return;
        client.SendCancelInBackground(Id, Connection);
        Complete(default, new OperationCanceledException(_token));
    }

    public override void OnItem(IClientCodec codec, in IncomingMessage message)
    {
        if (message.HasProgress && _progress is { } progress) progress.Report(codec, message.Progress, _client);
    }

    public override void OnTerminal(IClientCodec codec, in IncomingMessage message)
    {
        if (message.HasError)
        {
            Complete(default, codec.ReadError(message.Error));
            return;
        }
        T? value;
        try
        {
            value = codec.Read<T>(message.Result);
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or NotSupportedException or InvalidOperationException)
        {
            Complete(default, new RpcException(RpcErrorCodes.Internal,
                $"the result cannot be read as {typeof(T).Name}: {ex.Message}", 500, retryable: false, innerException: ex));
            return;
        }
        Complete(value, null);
    }

    public override void Fail(Exception error) => Complete(default, error);

    private void Complete(T? value, Exception? error)
    {
        _deadlineTicks = 0;
        _timer?.Change(Timeout.Infinite, Timeout.Infinite);
        // Unregister, not Dispose: no wait for a callback running now (it finds the call gone from the table).
        _registration.Unregister();
        _registration = default;
        if (error is null) _core.SetResult(value!);
        else _core.SetException(error);
    }

    public T GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            _client = null;
            _progress = null;
            _token = default;
            Connection = null;
            lock (Pool)
            {
                if (Pool.Count < MaxPooled) Pool.Push(this);
                else _timer?.Dispose();
            }
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>Where a call's progress goes: the caller's <see cref="IProgress{T}"/>, typed.</summary>
internal interface IProgressSink
{
    void Report(IClientCodec codec, ReadOnlyMemory<byte> value, GatewayClient? client);
}

internal sealed class ProgressSink<TProgress>(IProgress<TProgress> progress) : IProgressSink
{
    public void Report(IClientCodec codec, ReadOnlyMemory<byte> value, GatewayClient? client)
    {
        TProgress? item;
        try { item = codec.Read<TProgress>(value); }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or NotSupportedException)
        {
            client?.LogHandlerFailure("progress", ex);
            return;
        }
        try { progress.Report(item!); }
        catch (Exception ex) { client?.LogHandlerFailure("progress", ex); }
    }
}
