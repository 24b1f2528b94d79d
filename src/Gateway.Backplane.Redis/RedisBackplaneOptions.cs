namespace Gateway.Backplane.Redis;

/// <summary>The section Gateway:Backplane:Redis. Documented in docs/configuration.md; checked by <see cref="RedisBackplaneOptionsSection"/>.</summary>
public sealed class RedisBackplaneOptions
{
    /// <summary>The configuration path of this section.</summary>
    public const string SectionPath = "Gateway:Backplane:Redis";

    /// <summary>A StackExchange.Redis configuration string, e.g. "127.0.0.1:6379" or "redis1:6379,password=…,ssl=true". Required with Type=Redis.</summary>
    public string? Configuration { get; set; }
    /// <summary>Prefix of every channel and key the gateway uses, so several gateway clusters can share one Redis.</summary>
    public string ChannelPrefix { get; set; } = "gateway";
    /// <summary>How often a node refreshes its presence (and notices nodes that are gone).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>How long a publish, subscribe or lookup waits for Redis, including while it reconnects; past it the caller gets UNAVAILABLE.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
