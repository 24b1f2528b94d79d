using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gateway.Tests.Shared;

namespace Gateway.Policy.Tests;

/// <summary>
/// The "good neighbour" whose service must not suffer from a misbehaving client: a well-behaved client over
/// <see cref="RawClient"/> whose background reader answers every ping at once and records when it came (what the
/// heartbeat tests measure, and what ClientWebSocket, under the shared RpcClient, hides), reads every frame, routes
/// terminal replies to their callers by id, and answers the server's close frame. Sends are serialized.
/// </summary>
public sealed class NeighbourClient : IAsyncDisposable
{
    private readonly RawClient _raw;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly TaskCompletionSource<(int Code, string Reason)> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<TimeSpan> _pingTimes = new();
    private TaskCompletionSource _nextPing = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _reader;
    private int _nextId;

    private NeighbourClient(RawClient raw)
    {
        _raw = raw;
        _reader = Task.Run(ReadLoopAsync);
    }

    public static async Task<NeighbourClient> OpenAsync(IPEndPoint endPoint, string path = "/ws") => new(await RawClient.OpenAsync(endPoint, path));

    public RawClient Raw => _raw;
    /// <summary>Completes with the close code and reason when the server closes (code -1: TCP ended without a close frame).</summary>
    public Task<(int Code, string Reason)> Closed => _closed.Task;
    public bool IsClosed => _closed.Task.IsCompleted;

    /// <summary>When each ping arrived, measured from the client's creation.</summary>
    public TimeSpan[] PingTimes
    {
        get { lock (_pingTimes) return _pingTimes.ToArray(); }
    }

    /// <summary>Completes when the next ping has been received and answered.</summary>
    public Task NextPingAsync()
    {
        lock (_pingTimes) return _nextPing.Task;
    }

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Sends a request and waits (bounded) for its terminal reply.</summary>
    public async Task<JsonElement> CallAsync(string path, string? inputJson = null, TimeSpan? timeout = null)
    {
        string id = "g" + Interlocked.Increment(ref _nextId);
        var tcs = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        try
        {
            await SendAsync(Wire.RequestFrame(id, path, inputJson));
            return await tcs.Task.WaitAsync(timeout ?? Wire.Timeout);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>A t/echo round trip that must succeed: returns the echoed text.</summary>
    public async Task<string?> EchoAsync(string text, TimeSpan? timeout = null)
    {
        var reply = await CallAsync("t/echo", JsonSerializer.Serialize(new { text }), timeout);
        if (!reply.TryGetProperty("result", out var result)) throw new InvalidOperationException("echo failed: " + reply.GetRawText());
        return result.GetProperty("text").GetString();
    }

    public async Task SendAsync(byte[] bytes)
    {
        await _sendLock.WaitAsync();
        try { await _raw.SendAsync(bytes); }
        finally { _sendLock.Release(); }
    }

    private async Task ReadLoopAsync()
    {
        (int, string) outcome = (-1, "");
        try
        {
            while (true)
            {
                RawFrame? f;
                try { f = await _raw.TryReadFrameAsync(TimeSpan.FromMinutes(10)); }
                catch (ObjectDisposedException) { break; }
                if (f is null) break;
                var frame = f.Value;
                if (frame.Opcode == 9)
                {
                    await SendAsync(RawClient.Frame(10, frame.Payload));
                    TaskCompletionSource fired;
                    lock (_pingTimes)
                    {
                        _pingTimes.Add(_clock.Elapsed);
                        fired = _nextPing;
                        _nextPing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    }
                    fired.TrySetResult();
                }
                else if (frame.Opcode == 1)
                {
                    var m = Wire.Parse(frame.Payload);
                    if (Wire.IdOf(m) is { } id && Wire.IsTerminal(m) && _pending.TryGetValue(id, out var tcs)) tcs.TrySetResult(m);
                }
                else if (frame.Opcode == 8)
                {
                    outcome = (frame.Payload.Length >= 2 ? frame.CloseCode : 0,
                        frame.Payload.Length > 2 ? Encoding.UTF8.GetString(frame.Payload, 2, frame.Payload.Length - 2) : "");
                    try { await SendAsync(RawClient.CloseFrame(frame.Payload.Length >= 2 ? frame.CloseCode : (ushort)1000)); } catch { }
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException or TimeoutException)
        {
        }
        finally
        {
            _closed.TrySetResult(outcome);
            foreach (var p in _pending.Values) p.TrySetException(new ServerClosedException(outcome.Item1, outcome.Item2));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _raw.DisposeAsync();
        try { await _reader.WaitAsync(TimeSpan.FromSeconds(5)); } catch { }
        _sendLock.Dispose();
    }
}
