using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Gateway.Server;

/// <summary>
/// Server counters: plain Interlocked fields on the hot path, exposed both as a System.Diagnostics.Metrics
/// meter ("Gateway", for OpenTelemetry) and as Prometheus text on GET /metrics, from one table.
/// </summary>
public sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = "Gateway";
    private readonly Meter _meter;
    private readonly MetricDefinition[] _table;

    private long _accepted, _active, _handshakeRejected, _handshakeTimeouts, _upgraded;
    private long _messagesIn, _messagesOut, _bytesIn, _bytesOut;
    private long _framesDropped, _slowConsumerCloses, _rateLimited, _rateLimitCloses, _deadlinesExceeded, _internalErrors;
    private long _clientTimeouts, _idleTimeouts, _connectionLimitRejections, _originRejections;
    private readonly long[] _protocolErrors = new long[16]; // by close code - 1000
    private long _subscriptions, _eventsPublished, _eventsDelivered;
    private long _backplaneSent, _backplaneReceived, _backplaneErrors;
    private long _staticFilesServed, _staticFilesRefused;
    private long _serverCallsStarted, _serverCallsCompleted, _serverCallsFailed, _serverCallsTimedOut;
    private long _partialMessageCloses, _readPauses, _readsPaused, _pingsCoalesced;
    private readonly long[] _acceptErrors = new long[3]; // by AcceptErrorReason
    private long _acceptPauses;
    private readonly long[] _authFailures = new long[Auth.AuthFailureReasons.Count]; // by AuthFailureReason
    private long _authenticated, _authExpiredCloses, _jwksFetches, _jwksFetchErrors;
    private long _connectionHookErrors;
    private ProcedureMetrics? _procedures;
    private Func<long> _partialMessageBytes = static () => 0;
    private Func<long> _unsentBytes = static () => 0;
    private Func<int> _topicCount = static () => 0;
    private Func<bool> _backplaneConnected = static () => true;

    public GatewayMetrics()
    {
        const MetricKind C = MetricKind.Counter, G = MetricKind.Gauge;
        // In the order of the Prometheus text.
        _table =
        [
            new("gateway_connections_accepted_total", "gateway.connections.accepted", C, "TCP connections accepted.", () => Volatile.Read(ref _accepted)),
            new("gateway_connections_active", "gateway.connections.active", G, "Open TCP connections.", () => Volatile.Read(ref _active)),
            new("gateway_websocket_upgrades_total", "gateway.websocket.upgrades", C, "Successful WebSocket upgrades.", () => Volatile.Read(ref _upgraded)),
            new("gateway_handshakes_rejected_total", "gateway.handshakes.rejected", C, "HTTP requests answered with an error instead of an upgrade.", () => Volatile.Read(ref _handshakeRejected)),
            new("gateway_static_files_served_total", "gateway.static_files.served", C, "Static files answered (200 and 304) from Gateway:StaticFiles:Path.", () => Volatile.Read(ref _staticFilesServed)),
            new("gateway_static_files_refused_total", "gateway.static_files.refused", C, "Static file requests refused (bad path, escape, method, not found).", () => Volatile.Read(ref _staticFilesRefused)),
            new("gateway_handshake_timeouts_total", "gateway.handshakes.timeouts", C, "Connections dropped for not finishing the handshake in time.", () => Volatile.Read(ref _handshakeTimeouts)),
            new("gateway_slow_consumer_dropped_frames_total", "gateway.slow_consumer.dropped_frames", C, "Stream items, progress and events dropped for consumers over Limits:SendBufferLimitBytes.", () => Volatile.Read(ref _framesDropped)),
            new("gateway_slow_consumer_closes_total", "gateway.slow_consumer.closes", C, "Connections closed with 1008 by the Close slow-consumer policy.", () => Volatile.Read(ref _slowConsumerCloses)),
            new("gateway_rate_limited_total", "gateway.rate_limited", C, "Calls refused with RESOURCE_EXHAUSTED by a rate limit.", () => Volatile.Read(ref _rateLimited)),
            new("gateway_rate_limit_closes_total", "gateway.rate_limit.closes", C, "Connections closed with 1008 for sustained rate-limit abuse.", () => Volatile.Read(ref _rateLimitCloses)),
            new("gateway_deadlines_exceeded_total", "gateway.deadlines_exceeded", C, "Calls answered DEADLINE_EXCEEDED.", () => Volatile.Read(ref _deadlinesExceeded)),
            new("gateway_internal_errors_total", "gateway.internal_errors", C, "Handler failures answered INTERNAL.", () => Volatile.Read(ref _internalErrors)),
            new("gateway_log_lines_suppressed_total", "gateway.logs.suppressed", C, "Per-connection log lines (client faults, aborted connections, handler failures) suppressed by Limits:ClientFaultLogsPerSecond.", () => LogBudget.SuppressedTotal),
            new("gateway_client_timeouts_total", "gateway.client_timeouts", C, "Connections closed for sending nothing within Timeouts:ClientTimeout.", () => Volatile.Read(ref _clientTimeouts)),
            new("gateway_idle_timeouts_total", "gateway.idle_timeouts", C, "Connections closed for sending no message within Timeouts:Idle.", () => Volatile.Read(ref _idleTimeouts)),
            new("gateway_connection_limit_rejections_total", "gateway.connection_limit.rejections", C, "Upgrades refused with 503 by Limits:MaxConnections or Limits:MaxConnectionsPerIp.", () => Volatile.Read(ref _connectionLimitRejections)),
            new("gateway_origin_rejections_total", "gateway.origin.rejections", C, "Upgrades refused with 403 because of AllowedOrigins.", () => Volatile.Read(ref _originRejections)),
            new("gateway_messages_received_total", "gateway.messages.received", C, "WebSocket data messages received.", () => Volatile.Read(ref _messagesIn)),
            new("gateway_messages_sent_total", "gateway.messages.sent", C, "WebSocket frames queued for sending.", () => Volatile.Read(ref _messagesOut)),
            new("gateway_received_bytes_total", "gateway.bytes.received", C, "Payload bytes of received messages.", () => Volatile.Read(ref _bytesIn)),
            new("gateway_sent_bytes_total", "gateway.bytes.sent", C, "Bytes of frames queued for sending.", () => Volatile.Read(ref _bytesOut)),
            new("gateway_topics_active", "gateway.topics.active", G, "Topics with at least one subscriber on this node.", () => _topicCount()),
            new("gateway_topic_subscriptions", "gateway.topics.subscriptions", G, "Topic subscriptions of this node's connections.", () => Volatile.Read(ref _subscriptions)),
            new("gateway_events_published_total", "gateway.events.published", C, "Topic publishes made on this node.", () => Volatile.Read(ref _eventsPublished)),
            new("gateway_events_delivered_total", "gateway.events.delivered", C, "Event frames queued for this node's connections (topic events, direct events, broadcasts).", () => Volatile.Read(ref _eventsDelivered)),
            new("gateway_backplane_connected", "gateway.backplane.connected", G, "1 while the backplane reaches its broker.", () => _backplaneConnected() ? 1 : 0),
            new("gateway_backplane_sent_total", "gateway.backplane.sent", C, "Messages handed to the backplane for other nodes.", () => Volatile.Read(ref _backplaneSent)),
            new("gateway_backplane_received_total", "gateway.backplane.received", C, "Messages received from other nodes.", () => Volatile.Read(ref _backplaneReceived)),
            new("gateway_backplane_errors_total", "gateway.backplane.errors", C, "Backplane operations that failed (the caller got UNAVAILABLE, or a subscription waits for the broker).", () => Volatile.Read(ref _backplaneErrors)),
            new("gateway_server_calls_started_total", "gateway.server_calls.started", C, "Calls from the server to clients (IConnections.CallAsync).", () => Volatile.Read(ref _serverCallsStarted)),
            new("gateway_server_calls_completed_total", "gateway.server_calls.completed", C, "Server-to-client calls answered with a result.", () => Volatile.Read(ref _serverCallsCompleted)),
            new("gateway_server_calls_failed_total", "gateway.server_calls.failed", C, "Server-to-client calls that ended in an error (the client's, a timeout, a close).", () => Volatile.Read(ref _serverCallsFailed)),
            new("gateway_server_calls_timed_out_total", "gateway.server_calls.timed_out", C, "Server-to-client calls the client did not answer in time.", () => Volatile.Read(ref _serverCallsTimedOut)),
            new("gateway_partial_message_bytes", "gateway.partial_messages.bytes", G, "Bytes held in incomplete messages (fragments, frames still arriving), all connections together.", () => _partialMessageBytes()),
            new("gateway_partial_message_closes_total", "gateway.partial_messages.closes", C, "Connections closed with 1009 for holding the most incomplete-message bytes while the total was over Limits:MaxPartialMessageBytesTotal.", () => Volatile.Read(ref _partialMessageCloses)),
            new("gateway_unsent_bytes", "gateway.send.unsent_bytes", G, "Bytes queued for connections and not yet written to their sockets, all connections together.", () => _unsentBytes()),
            new("gateway_pipe_blocks", "gateway.pipe.blocks", G, "4 KiB blocks of the connections' pipes that the pool holds, in use or free (free ones unused for 10 s are let go).", () => _pipeBlocks()),
            new("gateway_pipe_free_blocks", "gateway.pipe.free_blocks", G, "Of gateway_pipe_blocks, those waiting in the pool.", () => _pipeFreeBlocks()),
            new("gateway_read_pauses_total", "gateway.reads.pauses", C, "Times a connection stopped being read because its unsent bytes were over Limits:SendBufferLimitBytes.", () => Volatile.Read(ref _readPauses)),
            new("gateway_reads_paused", "gateway.reads.paused", G, "Connections not being read right now because their unsent bytes are over Limits:SendBufferLimitBytes.", () => Volatile.Read(ref _readsPaused)),
            new("gateway_pings_coalesced_total", "gateway.pings.coalesced", C, "Client pings answered only by the pong of a later ping (RFC 6455 5.5.3).", () => Volatile.Read(ref _pingsCoalesced)),
            // Runtime figures, so a load run can read the server's own GC activity and memory from outside.
            new("dotnet_gc_collections_total", null, C, "Garbage collections since start, by generation.", Labeled: GcCollectionMeasurements),
            new("dotnet_gc_allocated_bytes_total", null, C, "Bytes allocated on the managed heap since start.", () => GC.GetTotalAllocatedBytes(false)),
            new("dotnet_gc_heap_bytes", null, G, "Managed heap size after the last collection (before the first one: bytes in use now).", HeapBytes),
            new("process_working_set_bytes", null, G, "Resident memory of the process.", () => Environment.WorkingSet),
            new("gateway_protocol_errors_total", "gateway.protocol_errors", C, "Connections failed for breaking the WebSocket protocol, by close code.", Labeled: ProtocolErrorMeasurements),
            new("gateway_accept_errors_total", "gateway.accept.errors", C, "Failed accepts, by cause (too_many_open_files: EMFILE/ENFILE; no_buffer_space; transient: the client gave up first).", Labeled: AcceptErrorMeasurements),
            new("gateway_accept_paused_total", "gateway.accept.paused", C, "Times accepting paused because Limits:MaxConnections and its over-limit slots were all in use.", () => Volatile.Read(ref _acceptPauses)),
            new("gateway_connection_limit", "gateway.connection_limit", G, "The connection limit in force (Limits:MaxConnections, or derived from the descriptor limit; 0 = none).", () => ConnectionLimit),
            new("gateway_auth_successes_total", "gateway.auth.successes", C, "Handshakes authenticated (JWT or a plugin's IConnectionAuthenticator).", () => Volatile.Read(ref _authenticated)),
            new("gateway_auth_failures_total", "gateway.auth.failures", C, "Failed authentications (handshakes answered 401/403/429, $auth refused), by reason.", Labeled: AuthFailureMeasurements),
            new("gateway_auth_expired_closes_total", "gateway.auth.expired_closes", C, "Connections closed with 4401 because their credentials expired.", () => Volatile.Read(ref _authExpiredCloses)),
            new("gateway_auth_jwks_fetches_total", "gateway.auth.jwks.fetches", C, "Successful fetches of Auth:Jwt:JwksUrl.", () => Volatile.Read(ref _jwksFetches)),
            new("gateway_auth_jwks_fetch_errors_total", "gateway.auth.jwks.fetch_errors", C, "Failed fetches of Auth:Jwt:JwksUrl (the last good keys stay in use).", () => Volatile.Read(ref _jwksFetchErrors)),
            new("gateway_connection_hook_errors_total", "gateway.connection_hooks.errors", C, "Exceptions thrown by plugins' connection handlers (IConnectionHandler); the connection carried on.", () => Volatile.Read(ref _connectionHookErrors)),
            new("gateway_compression_negotiated_total", "gateway.compression.negotiated", C, "Upgrades that agreed on permessage-deflate.", () => Volatile.Read(ref _compressionNegotiated)),
            new("gateway_compression_declined_total", "gateway.compression.declined", C, "Upgrades with a permessage-deflate offer declined for a malformed, duplicate or unsupported parameter.", () => Volatile.Read(ref _compressionDeclined)),
            new("gateway_compressed_messages_sent_total", "gateway.compression.messages_sent", C, "Frames written compressed (each subscriber's copy of a publish counts).", () => _deflate?.MessagesCompressed ?? 0),
            new("gateway_compression_input_bytes_total", "gateway.compression.input_bytes", C, "Bytes of the frames written compressed, before compression.", () => _deflate?.BytesBeforeCompression ?? 0),
            new("gateway_compression_output_bytes_total", "gateway.compression.output_bytes", C, "Bytes of the frames written compressed, as written.", () => _deflate?.BytesAfterCompression ?? 0),
            new("gateway_compression_shared_frames_total", "gateway.compression.shared_frames", C, "Fan-out frames compressed once for all their subscribers.", () => _deflate?.SharedFramesCompressed ?? 0),
            new("gateway_decompressed_messages_received_total", "gateway.compression.messages_received", C, "Compressed messages received and inflated.", () => _deflate?.MessagesInflated ?? 0),
            new("gateway_decompression_input_bytes_total", "gateway.compression.received_bytes", C, "Payload bytes of the received compressed messages, as they came on the wire.", () => _deflate?.BytesBeforeInflation ?? 0),
            new("gateway_decompression_output_bytes_total", "gateway.compression.inflated_bytes", C, "Bytes the received compressed messages inflated to.", () => _deflate?.BytesAfterInflation ?? 0),
        ];
        _meter = new Meter(MeterName);
        foreach (var metric in _table) metric.Register(_meter);
    }

    /// <summary>The meter ("Gateway") the table's instruments live on, and the table itself (for tests comparing the two views).</summary>
    internal Meter Meter => _meter;
    internal IReadOnlyList<MetricDefinition> Definitions => _table;

    /// <summary>Prometheus text exposition format 0.0.4.</summary>
    public string ToPrometheus()
    {
        var sb = new StringBuilder(1024);
        foreach (var metric in _table) metric.WritePrometheus(sb);
        _procedures?.WritePrometheus(sb);
        return sb.ToString();
    }

    /// <summary>The per-connection log line budget (Limits:ClientFaultLogsPerSecond); its suppressed lines are a metric.</summary>
    internal ClientFaultLogBudget LogBudget { get; } = new();

    /// <summary>The RPC endpoint's per-procedure calls and durations, exported after the table (one endpoint per server).</summary>
    internal void ObserveProcedures(ProcedureMetrics procedures)
    {
        if (Interlocked.CompareExchange(ref _procedures, procedures, null) is null) procedures.Register(_meter);
    }

    public long ConnectionHookErrors => Volatile.Read(ref _connectionHookErrors);
    internal void ConnectionHookFailed() => Interlocked.Increment(ref _connectionHookErrors);

    private Func<long> _pipeBlocks = static () => 0, _pipeFreeBlocks = static () => 0;

    /// <summary>The pipes' block pool, for the gateway_pipe_blocks gauges.</summary>
    internal void ObservePipeBlocks(Func<long> made, Func<long> free)
    {
        _pipeBlocks = made;
        _pipeFreeBlocks = free;
    }

    internal void ObserveSessionMemory(Func<long> partialMessageBytes, Func<long> unsentBytes)
    {
        _partialMessageBytes = partialMessageBytes;
        _unsentBytes = unsentBytes;
    }

    private long _compressionNegotiated, _compressionDeclined;
    private Gateway.Protocol.Compression.PerMessageDeflate? _deflate;

    internal void ObserveCompression(Gateway.Protocol.Compression.PerMessageDeflate deflate) => _deflate = deflate;
    internal void CompressionNegotiated() => Interlocked.Increment(ref _compressionNegotiated);
    internal void CompressionDeclined() => Interlocked.Increment(ref _compressionDeclined);
    public long CompressionNegotiations => Volatile.Read(ref _compressionNegotiated);
    public long CompressionDeclines => Volatile.Read(ref _compressionDeclined);
    /// <summary>The server's permessage-deflate machinery (null when compression is off): its counters and pools.</summary>
    public Gateway.Protocol.Compression.PerMessageDeflate? Compression => _deflate;

    internal void ObserveTopics(Func<int> topicCount, Func<bool> backplaneConnected)
    {
        _topicCount = topicCount;
        _backplaneConnected = backplaneConnected;
    }

    /// <summary>Bytes held right now in incomplete messages, all connections together.</summary>
    public long PartialMessageBytes => _partialMessageBytes();
    /// <summary>Bytes handed to sessions and not yet written to their sockets, all connections together.</summary>
    public long UnsentBytes => _unsentBytes();
    public long PartialMessageCloses => Volatile.Read(ref _partialMessageCloses);
    public long ReadPauses => Volatile.Read(ref _readPauses);
    public long ReadsPaused => Volatile.Read(ref _readsPaused);
    public long PingsCoalesced => Volatile.Read(ref _pingsCoalesced);
    public long Subscriptions => Volatile.Read(ref _subscriptions);
    public long EventsPublished => Volatile.Read(ref _eventsPublished);
    public long EventsDeliveredTotal => Volatile.Read(ref _eventsDelivered);
    public long BackplaneErrors => Volatile.Read(ref _backplaneErrors);
    public long ServerCallsTimedOut => Volatile.Read(ref _serverCallsTimedOut);
    public long ActiveConnections => Volatile.Read(ref _active);
    public long HandshakesRejected => Volatile.Read(ref _handshakeRejected);
    public long HandshakeTimeouts => Volatile.Read(ref _handshakeTimeouts);
    public long ProtocolErrors(ushort closeCode) => closeCode is >= 1000 and < 1016 ? Volatile.Read(ref _protocolErrors[closeCode - 1000]) : 0;
    public long ClientTimeouts => Volatile.Read(ref _clientTimeouts);
    public long IdleTimeouts => Volatile.Read(ref _idleTimeouts);
    public long ConnectionLimitRejections => Volatile.Read(ref _connectionLimitRejections);
    public long OriginRejections => Volatile.Read(ref _originRejections);
    public long FramesDropped => Volatile.Read(ref _framesDropped);
    public long SlowConsumerCloses => Volatile.Read(ref _slowConsumerCloses);
    public long RateLimited => Volatile.Read(ref _rateLimited);
    public long LogLinesSuppressed => LogBudget.SuppressedTotal;
    public long DeadlinesExceeded => Volatile.Read(ref _deadlinesExceeded);
    public long InternalErrors => Volatile.Read(ref _internalErrors);
    /// <summary>The connection limit in force (Limits:MaxConnections or the one derived from the descriptor limit; 0 = none).</summary>
    public int ConnectionLimit { get; internal set; }
    public long AcceptErrors(AcceptErrorReason reason) => Volatile.Read(ref _acceptErrors[(int)reason]);
    public long AcceptPauses => Volatile.Read(ref _acceptPauses);

    internal void PartialMessageClosed() => Interlocked.Increment(ref _partialMessageCloses);
    internal void ReadPaused() { Interlocked.Increment(ref _readPauses); Interlocked.Increment(ref _readsPaused); }
    internal void ReadResumed() => Interlocked.Decrement(ref _readsPaused);
    internal void CoalescedPings(long count) { if (count > 0) Interlocked.Add(ref _pingsCoalesced, count); }
    internal void Subscribed() => Interlocked.Increment(ref _subscriptions);
    internal void Unsubscribed() => Interlocked.Decrement(ref _subscriptions);
    internal void EventPublished() => Interlocked.Increment(ref _eventsPublished);
    internal void EventsDelivered(int count) { if (count > 0) Interlocked.Add(ref _eventsDelivered, count); }
    internal void BackplaneSent() => Interlocked.Increment(ref _backplaneSent);
    internal void BackplaneReceived() => Interlocked.Increment(ref _backplaneReceived);
    internal void BackplaneError() => Interlocked.Increment(ref _backplaneErrors);
    internal void ServerCallStarted() => Interlocked.Increment(ref _serverCallsStarted);
    internal void ServerCallCompleted() => Interlocked.Increment(ref _serverCallsCompleted);
    internal void ServerCallFailed() => Interlocked.Increment(ref _serverCallsFailed);
    internal void ServerCallTimedOut() => Interlocked.Increment(ref _serverCallsTimedOut);
    internal void ConnectionOpened() { Interlocked.Increment(ref _accepted); Interlocked.Increment(ref _active); }
    internal void ConnectionClosed() => Interlocked.Decrement(ref _active);
    internal void HandshakeRejected() => Interlocked.Increment(ref _handshakeRejected);
    internal void StaticFileServed() => Interlocked.Increment(ref _staticFilesServed);
    internal void StaticFileRefused() => Interlocked.Increment(ref _staticFilesRefused);
    internal void HandshakeTimedOut() => Interlocked.Increment(ref _handshakeTimeouts);
    internal void RateLimitHit() => Interlocked.Increment(ref _rateLimited);
    internal void RateLimitClose() => Interlocked.Increment(ref _rateLimitCloses);
    internal void DeadlineExceeded() => Interlocked.Increment(ref _deadlinesExceeded);
    internal void InternalError() => Interlocked.Increment(ref _internalErrors);
    internal void FrameDropped() => Interlocked.Increment(ref _framesDropped);
    internal void SlowConsumerClosed() => Interlocked.Increment(ref _slowConsumerCloses);
    internal void ClientTimedOut() => Interlocked.Increment(ref _clientTimeouts);
    internal void IdleTimedOut() => Interlocked.Increment(ref _idleTimeouts);
    internal void ConnectionLimitRejected() => Interlocked.Increment(ref _connectionLimitRejections);
    internal void OriginRejected() => Interlocked.Increment(ref _originRejections);
    internal void Upgraded() => Interlocked.Increment(ref _upgraded);
    internal void AcceptError(AcceptErrorReason reason) => Interlocked.Increment(ref _acceptErrors[(int)reason]);
    internal void AcceptPaused() => Interlocked.Increment(ref _acceptPauses);
    internal void MessageReceived(long bytes) { Interlocked.Increment(ref _messagesIn); Interlocked.Add(ref _bytesIn, bytes); }
    internal void MessageSent(long bytes) { Interlocked.Increment(ref _messagesOut); Interlocked.Add(ref _bytesOut, bytes); }
    /// <summary>A run of messages queued as one batch (a burst of stream items): two atomic adds for the whole run.</summary>
    internal void MessageBatchSent(int count, long bytes)
    {
        Interlocked.Add(ref _messagesOut, count);
        Interlocked.Add(ref _bytesOut, bytes);
    }
    internal void MessagesSent(int count, long bytesEach)
    {
        if (count == 0) return;
        Interlocked.Add(ref _messagesOut, count);
        Interlocked.Add(ref _bytesOut, count * bytesEach);
    }
    internal void ProtocolError(ushort closeCode)
    {
        if (closeCode is >= 1000 and < 1016) Interlocked.Increment(ref _protocolErrors[closeCode - 1000]);
    }

    // GetGCMemoryInfo describes the last collection and reads 0 until there has been one, which right after
    // start says "no heap" to a dashboard; the current total is the honest figure until then.
    internal static long HeapBytes()
    {
        long afterLastGc = GC.GetGCMemoryInfo().HeapSizeBytes;
        return afterLastGc > 0 ? afterLastGc : GC.GetTotalMemory(forceFullCollection: false);
    }

    private IEnumerable<Measurement<long>> ProtocolErrorMeasurements()
    {
        for (int i = 0; i < _protocolErrors.Length; i++)
        {
            long v = Volatile.Read(ref _protocolErrors[i]);
            if (v != 0) yield return new Measurement<long>(v, new KeyValuePair<string, object?>("code", 1000 + i));
        }
    }

    private IEnumerable<Measurement<long>> AcceptErrorMeasurements()
    {
        foreach (var reason in Enum.GetValues<AcceptErrorReason>())
            yield return new Measurement<long>(AcceptErrors(reason), new KeyValuePair<string, object?>("reason", ReasonLabel(reason)));
    }

    internal long AuthFailures(Auth.AuthFailureReason reason) => Volatile.Read(ref _authFailures[(int)reason]);
    public long Authentications => Volatile.Read(ref _authenticated);
    public long AuthExpiredCloses => Volatile.Read(ref _authExpiredCloses);
    public long JwksFetches => Volatile.Read(ref _jwksFetches);
    public long JwksFetchErrors => Volatile.Read(ref _jwksFetchErrors);
    internal void AuthFailed(Auth.AuthFailureReason reason) => Interlocked.Increment(ref _authFailures[(int)reason]);
    internal void Authenticated() => Interlocked.Increment(ref _authenticated);
    internal void AuthExpiredClose() => Interlocked.Increment(ref _authExpiredCloses);
    internal void JwksFetched() => Interlocked.Increment(ref _jwksFetches);
    internal void JwksFetchFailed() => Interlocked.Increment(ref _jwksFetchErrors);

    private IEnumerable<Measurement<long>> AuthFailureMeasurements()
    {
        for (int i = 0; i < _authFailures.Length; i++)
        {
            long v = Volatile.Read(ref _authFailures[i]);
            if (v != 0) yield return new Measurement<long>(v, new KeyValuePair<string, object?>("reason", Auth.AuthFailureReasons.Label((Auth.AuthFailureReason)i)));
        }
    }

    private static IEnumerable<Measurement<long>> GcCollectionMeasurements()
    {
        for (int gen = 0; gen <= GC.MaxGeneration; gen++)
            yield return new Measurement<long>(GC.CollectionCount(gen), new KeyValuePair<string, object?>("generation", gen));
    }

    private static string ReasonLabel(AcceptErrorReason reason) => reason switch
    {
        AcceptErrorReason.TooManyOpenFiles => "too_many_open_files",
        AcceptErrorReason.NoBufferSpace => "no_buffer_space",
        _ => "transient",
    };

    public void Dispose() => _meter.Dispose();
}
