using System.Collections.Concurrent;
using System.Text.Json;
using Gateway.Client;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Client.Tests;

public sealed class Msg
{
    public string? Text { get; set; }
    public long? Number { get; set; }
}

public sealed record Tick(int I);
public sealed record SlowProgress(int ElapsedMs);
public sealed record Data(string Text);

/// <summary>The client's own view of the sample's blob/echo input and output (DateTime where the server has DateTimeOffset).</summary>
public sealed class ClientBlob
{
    public byte[] Data { get; set; } = [];
    public DateTime? At { get; set; }
    public string? Name { get; set; }
}

public sealed record ClientBlobInfo(int Length, string Sha256);

/// <summary>Helpers: a client of a test gateway, state changes as awaitable signals, bounded waits.</summary>
public static class ClientTestKit
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>The standard settings plus the topic patterns and a short shutdown, so a stopping node closes quickly.</summary>
    public static Dictionary<string, string?> Overrides(IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Gateway:Topics:ClientSubscribe:0"] = "room:*",
            ["Gateway:Timeouts:Shutdown"] = "00:00:01",
        };
        if (extra is not null) foreach (var (k, v) in extra) settings[k] = v;
        return settings;
    }

    public static GatewayClient Client(Uri uri, Action<GatewayClientOptions>? configure = null) => new(uri, o =>
    {
        o.Reconnect.InitialDelay = TimeSpan.FromMilliseconds(50);
        o.Reconnect.MaxDelay = TimeSpan.FromMilliseconds(500);
        configure?.Invoke(o);
    });

    public static async Task<GatewayClient> ConnectAsync(Uri uri, Action<GatewayClientOptions>? configure = null)
    {
        var client = Client(uri, configure);
        await client.ConnectAsync();
        return client;
    }

    public static async Task<T> Within<T>(this Task<T> task, string what, TimeSpan? timeout = null)
    {
        try { return await task.WaitAsync(timeout ?? Timeout); }
        catch (TimeoutException) { throw new TimeoutException($"{what}: not within {(timeout ?? Timeout).TotalSeconds:0} s"); }
    }

    public static async Task Within(this Task task, string what, TimeSpan? timeout = null)
    {
        try { await task.WaitAsync(timeout ?? Timeout); }
        catch (TimeoutException) { throw new TimeoutException($"{what}: not within {(timeout ?? Timeout).TotalSeconds:0} s"); }
    }

    /// <summary>Completes when the client next reaches <paramref name="state"/> (registered before the action that causes it).</summary>
    public static Task WhenState(this GatewayClient client, GatewayClientState state)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.StateChanged += (_, e) => { if (e.Current == state) tcs.TrySetResult(); };
        return tcs.Task;
    }

    /// <summary>The port of a gateway once it is gone: a new one starts there.</summary>
    public static Dictionary<string, string?> OnPort(int port, IDictionary<string, string?>? extra = null)
    {
        var settings = Overrides(extra);
        settings["Gateway:Listen:0"] = $"127.0.0.1:{port}";
        return settings;
    }
}

/// <summary>Records what it is handed, as signals to await.</summary>
public sealed class Inbox<T>
{
    private readonly ConcurrentQueue<T> _items = new();
    private readonly SemaphoreSlim _count = new(0);

    public void Add(T item)
    {
        _items.Enqueue(item);
        _count.Release();
    }

    public IReadOnlyList<T> Items => [.. _items];

    /// <summary>Waits (bounded) until at least <paramref name="n"/> items arrived in all.</summary>
    public async Task WaitForAsync(int n, string what)
    {
        var deadline = DateTime.UtcNow + ClientTestKit.Timeout;
        while (_items.Count < n)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await _count.WaitAsync(left))
                throw new TimeoutException($"{what}: {_items.Count} of {n} within {ClientTestKit.Timeout.TotalSeconds:0} s");
        }
    }
}

/// <summary>An IProgress that records on the reporting thread (Progress&lt;T&gt; would post to the pool).</summary>
public sealed class RecordingProgress<T> : IProgress<T>
{
    public Inbox<T> Received { get; } = new();
    public void Report(T value) => Received.Add(value);
}
