using System.Runtime.CompilerServices;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;

namespace Gateway.Samples;

/// <summary>A message with a text and an optional number: the typed example, echo/typed, returns it unchanged.</summary>
public sealed class Msg
{
    // Members the client did not send stay out of the reply, so the echo is the input unchanged.
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Text { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Number { get; set; }
}

public sealed class CountInput
{
    /// <summary>How many items (0 to 100000).</summary>
    public int N { get; set; }
    /// <summary>Pause between items in milliseconds (0 to 60000).</summary>
    public int DelayMs { get; set; }
}

public sealed record Tick(int I);

public sealed class FailInput
{
    /// <summary>A protocol error code such as NOT_FOUND or RESOURCE_EXHAUSTED.</summary>
    public string? Code { get; set; }
    public string? Message { get; set; }
}

public sealed class SlowInput
{
    public int DelayMs { get; set; }
}

public sealed record SlowProgress(int ElapsedMs);
public sealed record SlowResult(int DelayMs);

public sealed class LogInput
{
    /// <summary>"debug" or "information" (the default). A client never picks Warning or above: its text is not an operator alert.</summary>
    public string? Level { get; set; }
    /// <summary>The text to log; control characters are replaced and it is cut to <see cref="EchoService.MaxLogMessageChars"/> characters.</summary>
    public string? Message { get; set; }
}

/// <summary>The sample procedures: the way to try the gateway, and what the tests and benchmarks call.</summary>
[RpcService("echo")]
public sealed class EchoService(ILogger<EchoService> log)
{
    /// <summary>
    /// Returns its input unchanged, whatever JSON it is: an object with any members, an array, a string, a number,
    /// true, false or null (no input answers null). What every client author tries first.
    /// </summary>
    // EncodedValue, not JsonElement: the input's bytes go back as they came, in either wire format, never parsed or transcoded.
    [Rpc("echo")]
    public EncodedValue? Echo(EncodedValue? input, RpcContext context) => input;

    /// <summary>
    /// The typed way to write a handler: the input is bound to <see cref="Msg"/> (members it does not know are ignored,
    /// a member of the wrong type is INVALID_ARGUMENT naming it) and returned.
    /// </summary>
    [Rpc("typed")]
    public ValueTask<Msg> Typed(Msg input, RpcContext context) => new(input);

    /// <summary>Streams {"i":0}…{"i":n-1}, waiting delayMs between items.</summary>
    [Subscription("count")]
    public async IAsyncEnumerable<Tick> Count(CountInput input, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (input.N is < 0 or > 100_000) throw new RpcException(ErrorCode.InvalidArgument, "n must be between 0 and 100000");
        if (input.DelayMs is < 0 or > 60_000) throw new RpcException(ErrorCode.InvalidArgument, "delayMs must be between 0 and 60000");
        for (int i = 0; i < input.N; i++)
        {
            if (input.DelayMs > 0) await Task.Delay(input.DelayMs, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            yield return new Tick(i);
        }
    }

    /// <summary>Fails with the protocol error code given in its input.</summary>
    [Rpc("fail")]
    public Msg Fail(FailInput input)
    {
        if (!ErrorCodes.TryParse(input.Code, out var code))
            throw new RpcException(ErrorCode.InvalidArgument, $"unknown error code '{input.Code}'");
        throw new RpcException(code, input.Message ?? $"failed with {code.WireName()} as asked",
            details: new { requested = input.Code }) { RetryAfter = code == ErrorCode.ResourceExhausted ? TimeSpan.FromSeconds(1) : null };
    }

    /// <summary>Throws a non-RPC exception: the client gets INTERNAL with a generic message, the log gets the details.</summary>
    [Rpc("crash")]
    public Msg Crash() => throw new InvalidOperationException("sample crash: this text must never reach the client");

    /// <summary>Waits delayMs, reporting progress every 100 ms; honours cancellation.</summary>
    [Rpc("slow")]
    public async Task<SlowResult> Slow(SlowInput input, RpcContext context, CancellationToken cancellationToken)
    {
        if (input.DelayMs is < 0 or > 600_000) throw new RpcException(ErrorCode.InvalidArgument, "delayMs must be between 0 and 600000");
        var started = Environment.TickCount64;
        while (true)
        {
            int elapsed = (int)(Environment.TickCount64 - started);
            int left = input.DelayMs - elapsed;
            if (left <= 0) break;
            await Task.Delay(Math.Min(100, left), cancellationToken);
            await context.ReportProgressAsync(new SlowProgress((int)(Environment.TickCount64 - started)));
        }
        return new SlowResult(input.DelayMs);
    }

    /// <summary>
    /// A server-to-client call: calls the calling client at <c>client/echo</c> with this request's input and returns the
    /// client's answer (its result, or its error). The client has 10 seconds; cancelling this request cancels that call.
    /// </summary>
    [Rpc("callback")]
    public Task<EncodedValue> Callback(EncodedValue? input, RpcContext context) =>
        context.CallClientAsync<EncodedValue>("client/echo", input, TimeSpan.FromSeconds(10));

    /// <summary>Longest client text echo/log writes.</summary>
    public const int MaxLogMessageChars = 200;
    /// <summary>Client lines echo/log writes per second for the whole process; the rest are counted and reported.</summary>
    public const int LogLinesPerSecond = 10;
    private readonly LineBudget _logBudget = new(LogLinesPerSecond);

    /// <summary>
    /// A notification: writes the client's text as a log line, never answers. What a client sends is untrusted, so
    /// this is what a handler that logs it should do: Debug or Information only, bounded length, no control
    /// characters (a "\n" would forge a second line), and a rate limit so a flood of calls is not a flood of lines.
    /// </summary>
    [Notification("log")]
    public void Log(LogInput input, RpcContext context)
    {
        var level = string.Equals(input.Level, "debug", StringComparison.OrdinalIgnoreCase) ? LogLevel.Debug : LogLevel.Information;
        if (!log.IsEnabled(level)) return;
        if (!_logBudget.TryTake(out long skipped)) return;
        if (skipped > 0) log.LogInformation("{Skipped} echo/log messages were not logged (over {Limit} per second)", skipped, LogLinesPerSecond);
        log.Log(level, "[{ConnectionId}] client says: {Message}", context.ConnectionId, Sanitize(input.Message));
    }

    private static string Sanitize(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var span = text.AsSpan(0, Math.Min(text.Length, MaxLogMessageChars));
        var chars = new char[span.Length + (text.Length > MaxLogMessageChars ? 1 : 0)];
        for (int i = 0; i < span.Length; i++) chars[i] = char.IsControl(span[i]) ? ' ' : span[i];
        if (text.Length > MaxLogMessageChars) chars[^1] = '\u2026';
        return new string(chars);
    }

    /// <summary>At most N lines per one-second window; what it refuses is counted and reported before the next line it lets through.</summary>
    private sealed class LineBudget(int perSecond)
    {
        private readonly object _gate = new();
        private long _window;
        private int _taken;
        private long _skipped;

        public bool TryTake(out long skippedBefore)
        {
            long now = Environment.TickCount64 / 1000;
            lock (_gate)
            {
                skippedBefore = 0;
                if (now != _window)
                {
                    _window = now;
                    _taken = 0;
                    skippedBefore = _skipped;
                    _skipped = 0;
                }
                if (_taken >= perSecond)
                {
                    _skipped++;
                    return false;
                }
                _taken++;
                return true;
            }
        }
    }
}
