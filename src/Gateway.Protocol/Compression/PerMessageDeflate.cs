namespace Gateway.Protocol.Compression;

/// <summary>
/// One server's permessage-deflate machinery: its settings and the pools of native streams its connections borrow,
/// one pool per window size. Connections get a <see cref="MessageDeflater"/> and a <see cref="MessageInflater"/>
/// that hold no native state until a message needs one.
/// </summary>
public sealed class PerMessageDeflate
{
    // Streams kept idle per pool. Borrowed for one message at a time, so a few per core cover a busy server; more would
    // only be native memory nobody uses.
    private static readonly int PoolCapacity = Math.Clamp(Environment.ProcessorCount * 2, 4, 64);
    private readonly ZLibStreamPool<ZLibDeflater>?[] _deflaters = new ZLibStreamPool<ZLibDeflater>?[16];
    private readonly ZLibStreamPool<ZLibInflater>?[] _inflaters = new ZLibStreamPool<ZLibInflater>?[16];

    public PerMessageDeflate(PerMessageDeflateSettings settings) => Settings = settings;

    public PerMessageDeflateSettings Settings { get; }

    /// <summary>Sec-WebSocket-Extensions values this server accepted, and what it agreed (see PerMessageDeflateNegotiation).</summary>
    internal System.Collections.Concurrent.ConcurrentDictionary<string, PerMessageDeflateParameters> AcceptedOffers { get; } = new(StringComparer.Ordinal);
    internal const int MaxAcceptedOffers = 64;

    /// <summary>True when the runtime's zlib can be used in this process (see <see cref="UnavailableReason"/>).</summary>
    public static bool IsAvailable => ZLibNative.IsAvailable;
    public static string? UnavailableReason => ZLibNative.Problem;

    /// <summary>Deflaters ever created (pooled and per-connection ones), for tests and benchmarks.</summary>
    public long DeflatersCreated => Sum(_deflaters) + Volatile.Read(ref _ownDeflaters);
    /// <summary>Inflaters ever created, pooled and per-connection.</summary>
    public long InflatersCreated => Sum(_inflaters) + Volatile.Read(ref _ownInflaters);
    private long _ownDeflaters, _ownInflaters;

    /// <summary>Messages sent compressed (each subscriber's copy counts), and their frame bytes (header included) before and after.</summary>
    public long MessagesCompressed => Volatile.Read(ref _messagesCompressed);
    public long BytesBeforeCompression => Volatile.Read(ref _bytesBeforeCompression);
    public long BytesAfterCompression => Volatile.Read(ref _bytesAfterCompression);
    /// <summary>Compressed messages received, and their payload bytes on the wire and inflated.</summary>
    public long MessagesInflated => Volatile.Read(ref _messagesInflated);
    public long BytesBeforeInflation => Volatile.Read(ref _bytesBeforeInflation);
    public long BytesAfterInflation => Volatile.Read(ref _bytesAfterInflation);
    /// <summary>Times a fan-out frame was compressed (once per publish and window size, however many subscribers).</summary>
    public long SharedFramesCompressed => Volatile.Read(ref _sharedCompressed);
    private long _messagesCompressed, _bytesBeforeCompression, _bytesAfterCompression;
    private long _messagesInflated, _bytesBeforeInflation, _bytesAfterInflation, _sharedCompressed;

    internal void CountCompressed(int before, int after)
    {
        Interlocked.Increment(ref _messagesCompressed);
        Interlocked.Add(ref _bytesBeforeCompression, before);
        Interlocked.Add(ref _bytesAfterCompression, after);
    }

    internal void CountInflated(long before, long after)
    {
        Interlocked.Increment(ref _messagesInflated);
        Interlocked.Add(ref _bytesBeforeInflation, before);
        Interlocked.Add(ref _bytesAfterInflation, after);
    }

    internal void CountSharedCompressed() => Interlocked.Increment(ref _sharedCompressed);

    /// <summary>
    /// The outbound state for a connection with <paramref name="parameters"/>: without server context takeover one
    /// instance per window size serves every connection (it holds nothing of any one of them), so an idle compressed
    /// connection costs no object of its own; with context takeover a new one, which will own the connection's deflater.
    /// </summary>
    public MessageDeflater CreateDeflater(PerMessageDeflateParameters parameters) =>
        parameters.ServerNoContextTakeover
            ? _sharedDeflaters[parameters.ServerMaxWindowBits] ?? Share(ref _sharedDeflaters[parameters.ServerMaxWindowBits], new MessageDeflater(this, parameters))
            : new MessageDeflater(this, parameters);

    /// <summary>The inbound state for a connection with <paramref name="parameters"/>: shared without client context takeover, as for <see cref="CreateDeflater"/>.</summary>
    public MessageInflater CreateInflater(PerMessageDeflateParameters parameters) =>
        parameters.ClientNoContextTakeover
            ? _sharedInflaters[parameters.ClientMaxWindowBits] ?? Share(ref _sharedInflaters[parameters.ClientMaxWindowBits], new MessageInflater(this, false, parameters.ClientMaxWindowBits))
            : new MessageInflater(this, true, parameters.ClientMaxWindowBits);

    private readonly MessageDeflater?[] _sharedDeflaters = new MessageDeflater?[16];
    private readonly MessageInflater?[] _sharedInflaters = new MessageInflater?[16];

    private static T Share<T>(ref T? slot, T created) where T : class => Interlocked.CompareExchange(ref slot, created, null) ?? created;

    internal ZLibStreamPool<ZLibDeflater> Deflaters(int windowBits) => _deflaters[windowBits] ?? CreateDeflaters(windowBits);

    internal ZLibStreamPool<ZLibInflater> Inflaters(int windowBits) => _inflaters[windowBits] ?? CreateInflaters(windowBits);

    // Apart from the getters: a lambda capturing the window size there would allocate its closure on every call.
    private ZLibStreamPool<ZLibDeflater> CreateDeflaters(int windowBits)
    {
        int level = Settings.Level;
        Interlocked.CompareExchange(ref _deflaters[windowBits], new ZLibStreamPool<ZLibDeflater>(() => new ZLibDeflater(level, windowBits), PoolCapacity), null);
        return _deflaters[windowBits]!;
    }

    private ZLibStreamPool<ZLibInflater> CreateInflaters(int windowBits)
    {
        Interlocked.CompareExchange(ref _inflaters[windowBits], new ZLibStreamPool<ZLibInflater>(() => new ZLibInflater(windowBits), PoolCapacity), null);
        return _inflaters[windowBits]!;
    }

    internal ZLibDeflater NewOwnDeflater(int windowBits)
    {
        Interlocked.Increment(ref _ownDeflaters);
        return new ZLibDeflater(Settings.Level, windowBits);
    }

    internal ZLibInflater NewOwnInflater(int windowBits)
    {
        Interlocked.Increment(ref _ownInflaters);
        return new ZLibInflater(windowBits);
    }

    private static long Sum<T>(ZLibStreamPool<T>?[] pools) where T : class, IDisposable
    {
        long n = 0;
        foreach (var p in pools) n += p?.Created ?? 0;
        return n;
    }
}
