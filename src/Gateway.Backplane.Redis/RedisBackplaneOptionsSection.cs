using StackExchange.Redis;

namespace Gateway.Backplane.Redis;

/// <summary>The checks of Gateway:Backplane:Redis, run by the gateway's configuration reader with its own (docs/configuration.md).</summary>
public sealed class RedisBackplaneOptionsSection : BackplaneOptionsSection
{
    private static readonly TimeSpan MinDuration = TimeSpan.FromMilliseconds(100), MaxDuration = TimeSpan.FromMinutes(5);
    private static readonly string DurationRange = $"between {MinDuration:c} and {MaxDuration:c}";

    public override string Name => "Redis";
    public override Type OptionsType => typeof(RedisBackplaneOptions);

    public override IReadOnlyDictionary<string, string> Allowed { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [nameof(RedisBackplaneOptions.HeartbeatInterval)] = DurationRange,
        [nameof(RedisBackplaneOptions.OperationTimeout)] = DurationRange,
    };

    public override void Validate(object options, string path, bool selected, ICollection<string> errors)
    {
        var o = (RedisBackplaneOptions)options;
        if (selected)
        {
            if (string.IsNullOrWhiteSpace(o.Configuration))
                errors.Add($"{path}:Configuration is required when {Parent(path)}:Type is Redis (e.g. '127.0.0.1:6379').");
            else if (TryParse(o.Configuration, path, out _) is { } error)
                errors.Add(error);
        }
        var prefix = o.ChannelPrefix;
        if (string.IsNullOrEmpty(prefix) || prefix.Length > 64 || prefix.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ':')))
            errors.Add($"{path}:ChannelPrefix must be 1 to 64 letters, digits, '_', '-', '.' or ':' (got '{prefix}').");
        CheckDuration(errors, $"{path}:HeartbeatInterval", o.HeartbeatInterval);
        CheckDuration(errors, $"{path}:OperationTimeout", o.OperationTimeout);
    }

    /// <summary>
    /// Parses a StackExchange.Redis configuration string: the error (naming <paramref name="path"/>:Configuration), or
    /// null with the parsed <paramref name="config"/>. One place for what the options check and RedisBackplane accept.
    /// </summary>
    internal static string? TryParse(string? configuration, string path, out ConfigurationOptions? config)
    {
        config = null;
        try
        {
            config = ConfigurationOptions.Parse(configuration ?? throw new ArgumentException("no configuration string"));
        }
        catch (Exception ex) when (ex is ArgumentException or RedisException)
        {
            return $"{path}:Configuration is not a valid StackExchange.Redis configuration ('{configuration}'): {ex.Message}";
        }
        // Parse drops what it cannot read as an endpoint ("host:notaport") without a word; ConnectAsync would then fail at start.
        return config.EndPoints.Count == 0
            ? $"{path}:Configuration names no Redis endpoint ('{configuration}'): give host:port, e.g. '127.0.0.1:6379'"
            : null;
    }

    private static void CheckDuration(ICollection<string> errors, string key, TimeSpan value)
    {
        if (value < MinDuration || value > MaxDuration) errors.Add($"{key} must be {DurationRange} (got {value:c}).");
    }

    private static string Parent(string path) => path[..Math.Max(0, path.LastIndexOf(':'))];
}
