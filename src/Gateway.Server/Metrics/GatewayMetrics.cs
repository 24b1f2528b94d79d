using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Gateway.Server;

/// <summary>
/// Server counters: plain Interlocked fields on the hot path, exposed both as a System.Diagnostics.Metrics
/// meter ("Gateway", for OpenTelemetry) and as Prometheus text on GET /metrics.
/// </summary>
public sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = "Gateway";
    private readonly Meter _meter;

    private long _accepted, _active, _handshakeRejected, _handshakeTimeouts, _upgraded;
    private long _messagesIn, _messagesOut, _bytesIn, _bytesOut;
    private long _framesDropped, _slowConsumerCloses, _rateLimited, _rateLimitCloses, _deadlinesExceeded, _internalErrors;
    private long _clientTimeouts, _idleTimeouts, _connectionLimitRejections, _originRejections;
    private readonly long[] _protocolErrors = new long[16]; // by close code - 1000
    private long _subscriptions, _eventsPublished, _eventsDelivered;
    private long _backplaneSent, _backplaneReceived, _backplaneErrors;
    private long _serverCallsStarted, _serverCallsCompleted, _serverCallsFailed, _serverCallsTimedOut;
    private long _partialMessageCloses, _readPauses, _readsPaused, _pingsCoalesced;
    private Func<long> _partialMessageBytes = static () => 0;
    private Func<long> _unsentBytes = static () => 0;
    private Func<int> _topicCount = static () => 0;
    private Func<bool> _backplaneConnected = static () => true;

    public GatewayMetrics()
    {
        _meter = new Meter(MeterName);
        _meter.CreateObservableCounter("gateway.connections.accepted", () => Volatile.Read(ref _accepted));
        _meter.CreateObservableUpDownCounter("gateway.connections.active", () => Volatile.Read(ref _active));
        _meter.CreateObservableCounter("gateway.websocket.upgrades", () => Volatile.Read(ref _upgraded));
        _meter.CreateObservableCounter("gateway.handshakes.rejected", () => Volatile.Read(ref _handshakeRejected));
        _meter.CreateObservableCounter("gateway.handshakes.timeouts", () => Volatile.Read(ref _handshakeTimeouts));
        _meter.CreateObservableCounter("gateway.messages.received", () => Volatile.Read(ref _messagesIn));
        _meter.CreateObservableCounter("gateway.messages.sent", () => Volatile.Read(ref _messagesOut));
        _meter.CreateObservableCounter("gateway.bytes.received", () => Volatile.Read(ref _bytesIn));
        _meter.CreateObservableCounter("gateway.bytes.sent", () => Volatile.Read(ref _bytesOut));
        _meter.CreateObservableCounter("gateway.protocol_errors", () => ProtocolErrorMeasurements());
        _meter.CreateObservableCounter("gateway.slow_consumer.dropped_frames", () => Volatile.Read(ref _framesDropped));
        _meter.CreateObservableCounter("gateway.slow_consumer.closes", () => Volatile.Read(ref _slowConsumerCloses));
        _meter.CreateObservableCounter("gateway.rate_limited", () => Volatile.Read(ref _rateLimited));
        _meter.CreateObservableCounter("gateway.rate_limit.closes", () => Volatile.Read(ref _rateLimitCloses));
        _meter.CreateObservableCounter("gateway.deadlines_exceeded", () => Volatile.Read(ref _deadlinesExceeded));
        _meter.CreateObservableCounter("gateway.internal_errors", () => Volatile.Read(ref _internalErrors));
        _meter.CreateObservableCounter("gateway.client_timeouts", () => Volatile.Read(ref _clientTimeouts));
        _meter.CreateObservableCounter("gateway.idle_timeouts", () => Volatile.Read(ref _idleTimeouts));
        _meter.CreateObservableCounter("gateway.connection_limit.rejections", () => Volatile.Read(ref _connectionLimitRejections));
        _meter.CreateObservableCounter("gateway.origin.rejections", () => Volatile.Read(ref _originRejections));
        _meter.CreateObservableCounter("gateway.accept.errors", () => AcceptErrorMeasurements());
        _meter.CreateObservableCounter("gateway.accept.paused", () => Volatile.Read(ref _acceptPauses));
        _meter.CreateObservableCounter("gateway.logs.suppressed", () => Volatile.Read(ref _suppressedTotal));
        _meter.CreateObservableUpDownCounter("gateway.topics.active", () => _topicCount());
        _meter.CreateObservableUpDownCounter("gateway.topics.subscriptions", () => Volatile.Read(ref _subscriptions));
        _meter.CreateObservableCounter("gateway.events.published", () => Volatile.Read(ref _eventsPublished));
        _meter.CreateObservableCounter("gateway.events.delivered", () => Volatile.Read(ref _eventsDelivered));
        _meter.CreateObservableCounter("gateway.backplane.sent", () => Volatile.Read(ref _backplaneSent));
        _meter.CreateObservableCounter("gateway.backplane.received", () => Volatile.Read(ref _backplaneReceived));
        _meter.CreateObservableCounter("gateway.backplane.errors", () => Volatile.Read(ref _backplaneErrors));
        _meter.CreateObservableUpDownCounter("gateway.backplane.connected", () => _backplaneConnected() ? 1 : 0);
        _meter.CreateObservableCounter("gateway.server_calls.started", () => Volatile.Read(ref _serverCallsStarted));
        _meter.CreateObservableCounter("gateway.server_calls.completed", () => Volatile.Read(ref _serverCallsCompleted));
        _meter.CreateObservableCounter("gateway.server_calls.failed", () => Volatile.Read(ref _serverCallsFailed));
        _meter.CreateObservableCounter("gateway.server_calls.timed_out", () => Volatile.Read(ref _serverCallsTimedOut));
        _meter.CreateObservableUpDownCounter("gateway.partial_messages.bytes", () => _partialMessageBytes());
        _meter.CreateObservableCounter("gateway.partial_messages.closes", () => Volatile.Read(ref _partialMessageCloses));
        _meter.CreateObservableUpDownCounter("gateway.send.unsent_bytes", () => _unsentBytes());
        _meter.CreateObservableCounter("gateway.reads.pauses", () => Volatile.Read(ref _readPauses));
        _meter.CreateObservableUpDownCounter("gateway.reads.paused", () => Volatile.Read(ref _readsPaused));
        _meter.CreateObservableCounter("gateway.pings.coalesced", () => Volatile.Read(ref _pingsCoalesced));
    }

    internal void ObserveSessionMemory(Func<long> partialMessageBytes, Func<long> unsentBytes)
    {
        _partialMessageBytes = partialMessageBytes;
        _unsentBytes = unsentBytes;
    }

    /// <summary>Bytes held right now in incomplete messages, all connections together.</summary>
    public long PartialMessageBytes => _partialMessageBytes();
    /// <summary>Bytes handed to sessions and not yet written to their sockets, all connections together.</summary>
    public long UnsentBytes => _unsentBytes();
    public long PartialMessageCloses => Volatile.Read(ref _partialMessageCloses);
    public long ReadPauses => Volatile.Read(ref _readPauses);
    public long ReadsPaused => Volatile.Read(ref _readsPaused);
    public long PingsCoalesced => Volatile.Read(ref _pingsCoalesced);
    internal void PartialMessageClosed() => Interlocked.Increment(ref _partialMessageCloses);
    internal void ReadPaused() { Interlocked.Increment(ref _readPauses); Interlocked.Increment(ref _readsPaused); }
    internal void ReadResumed() => Interlocked.Decrement(ref _readsPaused);
    internal void CoalescedPings(long count) { if (count > 0) Interlocked.Add(ref _pingsCoalesced, count); }

    internal void ObserveTopics(Func<int> topicCount, Func<bool> backplaneConnected)
    {
        _topicCount = topicCount;
        _backplaneConnected = backplaneConnected;
    }

    public long Subscriptions => Volatile.Read(ref _subscriptions);
    public long EventsPublished => Volatile.Read(ref _eventsPublished);
    public long EventsDeliveredTotal => Volatile.Read(ref _eventsDelivered);
    public long BackplaneErrors => Volatile.Read(ref _backplaneErrors);
    public long ServerCallsTimedOut => Volatile.Read(ref _serverCallsTimedOut);
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

    private IEnumerable<Measurement<long>> AcceptErrorMeasurements()
    {
        foreach (var reason in Enum.GetValues<AcceptErrorReason>())
            yield return new Measurement<long>(AcceptErrors(reason), new KeyValuePair<string, object?>("reason", ReasonLabel(reason)));
    }

    private IEnumerable<Measurement<long>> ProtocolErrorMeasurements()
    {
        for (int i = 0; i < _protocolErrors.Length; i++)
        {
            long v = Volatile.Read(ref _protocolErrors[i]);
            if (v != 0) yield return new Measurement<long>(v, new KeyValuePair<string, object?>("code", 1000 + i));
        }
    }

    // Per-connection log lines a client can cause (bad handshakes, protocol errors, bad envelopes, timeouts,
    // aborted connections, handler failures...) are rate-limited so that a flood from hostile clients cannot fill
    // the disk; what is suppressed is counted and reported. The window (second) and the lines let through in it
    // share one long, so a new window and its first line are one atomic step and no window admits more than
    // the limit.
    private int _clientFaultLogsPerSecond = 20;
    private long _logWindowAndCount;
    private long _suppressed, _suppressedTotal;

    internal int ClientFaultLogsPerSecond { set => _clientFaultLogsPerSecond = value; }

    /// <summary>
    /// True when a per-connection line at <paramref name="level"/> may be written now. A line the logger would
    /// not write (level disabled) is neither let through nor counted: it must not spend the budget that another
    /// client's visible lines need.
    /// </summary>
    internal bool AllowClientFaultLog(Microsoft.Extensions.Logging.ILogger logger, Microsoft.Extensions.Logging.LogLevel level)
    {
        if (!logger.IsEnabled(level)) return false;
        int limit = _clientFaultLogsPerSecond;
        if (limit <= 0) return true;
        long second = Environment.TickCount64 / 1000;
        while (true)
        {
            long current = Volatile.Read(ref _logWindowAndCount);
            bool sameWindow = current >> 32 == second;
            if (sameWindow && (int)current >= limit)
            {
                Interlocked.Increment(ref _suppressed);
                Interlocked.Increment(ref _suppressedTotal);
                return false;
            }
            long next = sameWindow ? current + 1 : (second << 32) | 1;
            if (Interlocked.CompareExchange(ref _logWindowAndCount, next, current) == current) return true;
        }
    }

    /// <summary>Client-fault log lines suppressed since the last call (the heartbeat reports them).</summary>
    internal long TakeSuppressed() => Interlocked.Exchange(ref _suppressed, 0);

    public long ActiveConnections => Volatile.Read(ref _active);
    public long HandshakesRejected => Volatile.Read(ref _handshakeRejected);
    public long HandshakeTimeouts => Volatile.Read(ref _handshakeTimeouts);
    public long ProtocolErrors(ushort closeCode) => closeCode is >= 1000 and < 1016 ? Volatile.Read(ref _protocolErrors[closeCode - 1000]) : 0;

    internal void ConnectionOpened() { Interlocked.Increment(ref _accepted); Interlocked.Increment(ref _active); }
    internal void ConnectionClosed() => Interlocked.Decrement(ref _active);
    internal void HandshakeRejected() => Interlocked.Increment(ref _handshakeRejected);
    internal void HandshakeTimedOut() => Interlocked.Increment(ref _handshakeTimeouts);
    public long ClientTimeouts => Volatile.Read(ref _clientTimeouts);
    public long IdleTimeouts => Volatile.Read(ref _idleTimeouts);
    public long ConnectionLimitRejections => Volatile.Read(ref _connectionLimitRejections);
    public long OriginRejections => Volatile.Read(ref _originRejections);
    public long FramesDropped => Volatile.Read(ref _framesDropped);
    public long SlowConsumerCloses => Volatile.Read(ref _slowConsumerCloses);
    public long RateLimited => Volatile.Read(ref _rateLimited);
    public long LogLinesSuppressed => Volatile.Read(ref _suppressedTotal);
    public long DeadlinesExceeded => Volatile.Read(ref _deadlinesExceeded);
    public long InternalErrors => Volatile.Read(ref _internalErrors);
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
    internal void MessageReceived(long bytes) { Interlocked.Increment(ref _messagesIn); Interlocked.Add(ref _bytesIn, bytes); }
    internal void MessageSent(long bytes) { Interlocked.Increment(ref _messagesOut); Interlocked.Add(ref _bytesOut, bytes); }
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

    /// <summary>Prometheus text exposition format 0.0.4.</summary>
    public string ToPrometheus()
    {
        var sb = new StringBuilder(1024);
        Counter(sb, "gateway_connections_accepted_total", "TCP connections accepted.", _accepted);
        Gauge(sb, "gateway_connections_active", "Open TCP connections.", _active);
        Counter(sb, "gateway_websocket_upgrades_total", "Successful WebSocket upgrades.", _upgraded);
        Counter(sb, "gateway_handshakes_rejected_total", "HTTP requests answered with an error instead of an upgrade.", _handshakeRejected);
        Counter(sb, "gateway_handshake_timeouts_total", "Connections dropped for not finishing the handshake in time.", _handshakeTimeouts);
        Counter(sb, "gateway_slow_consumer_dropped_frames_total", "Stream items, progress and events dropped for consumers over Limits:SendBufferLimitBytes.", _framesDropped);
        Counter(sb, "gateway_slow_consumer_closes_total", "Connections closed with 1008 by the Close slow-consumer policy.", _slowConsumerCloses);
        Counter(sb, "gateway_rate_limited_total", "Calls refused with RESOURCE_EXHAUSTED by a rate limit.", _rateLimited);
        Counter(sb, "gateway_rate_limit_closes_total", "Connections closed with 1008 for sustained rate-limit abuse.", _rateLimitCloses);
        Counter(sb, "gateway_deadlines_exceeded_total", "Calls answered DEADLINE_EXCEEDED.", _deadlinesExceeded);
        Counter(sb, "gateway_internal_errors_total", "Handler failures answered INTERNAL.", _internalErrors);
        Counter(sb, "gateway_log_lines_suppressed_total", "Per-connection log lines (client faults, aborted connections, handler failures) suppressed by Limits:ClientFaultLogsPerSecond.", _suppressedTotal);
        Counter(sb, "gateway_client_timeouts_total", "Connections closed for sending nothing within Timeouts:ClientTimeout.", _clientTimeouts);
        Counter(sb, "gateway_idle_timeouts_total", "Connections closed for sending no message within Timeouts:Idle.", _idleTimeouts);
        Counter(sb, "gateway_connection_limit_rejections_total", "Upgrades refused with 503 by Limits:MaxConnections or Limits:MaxConnectionsPerIp.", _connectionLimitRejections);
        Counter(sb, "gateway_origin_rejections_total", "Upgrades refused with 403 because of AllowedOrigins.", _originRejections);
        Counter(sb, "gateway_messages_received_total", "WebSocket data messages received.", _messagesIn);
        Counter(sb, "gateway_messages_sent_total", "WebSocket frames queued for sending.", _messagesOut);
        Counter(sb, "gateway_received_bytes_total", "Payload bytes of received messages.", _bytesIn);
        Counter(sb, "gateway_sent_bytes_total", "Bytes of frames queued for sending.", _bytesOut);
        Gauge(sb, "gateway_topics_active", "Topics with at least one subscriber on this node.", _topicCount());
        Gauge(sb, "gateway_topic_subscriptions", "Topic subscriptions of this node's connections.", _subscriptions);
        Counter(sb, "gateway_events_published_total", "Topic publishes made on this node.", _eventsPublished);
        Counter(sb, "gateway_events_delivered_total", "Event frames queued for this node's connections (topic events, direct events, broadcasts).", _eventsDelivered);
        Gauge(sb, "gateway_backplane_connected", "1 while the backplane reaches its broker.", _backplaneConnected() ? 1 : 0);
        Counter(sb, "gateway_backplane_sent_total", "Messages handed to the backplane for other nodes.", _backplaneSent);
        Counter(sb, "gateway_backplane_received_total", "Messages received from other nodes.", _backplaneReceived);
        Counter(sb, "gateway_backplane_errors_total", "Backplane operations that failed (the caller got UNAVAILABLE, or a subscription waits for the broker).", _backplaneErrors);
        Counter(sb, "gateway_server_calls_started_total", "Calls from the server to clients (IConnections.CallAsync).", _serverCallsStarted);
        Counter(sb, "gateway_server_calls_completed_total", "Server-to-client calls answered with a result.", _serverCallsCompleted);
        Counter(sb, "gateway_server_calls_failed_total", "Server-to-client calls that ended in an error (the client's, a timeout, a close).", _serverCallsFailed);
        Counter(sb, "gateway_server_calls_timed_out_total", "Server-to-client calls the client did not answer in time.", _serverCallsTimedOut);
        Gauge(sb, "gateway_partial_message_bytes", "Bytes held in incomplete messages (fragments, frames still arriving), all connections together.", _partialMessageBytes());
        Counter(sb, "gateway_partial_message_closes_total", "Connections closed with 1009 for holding the most incomplete-message bytes while the total was over Limits:MaxPartialMessageBytesTotal.", _partialMessageCloses);
        Gauge(sb, "gateway_unsent_bytes", "Bytes queued for connections and not yet written to their sockets, all connections together.", _unsentBytes());
        Counter(sb, "gateway_read_pauses_total", "Times a connection stopped being read because its unsent bytes were over Limits:SendBufferLimitBytes.", _readPauses);
        Gauge(sb, "gateway_reads_paused", "Connections not being read right now because their unsent bytes are over Limits:SendBufferLimitBytes.", _readsPaused);
        Counter(sb, "gateway_pings_coalesced_total", "Client pings answered only by the pong of a later ping (RFC 6455 5.5.3).", _pingsCoalesced);
        // Runtime figures, so a load run can read the server's own GC activity and memory from outside.
        sb.Append("# HELP dotnet_gc_collections_total Garbage collections since start, by generation.\n# TYPE dotnet_gc_collections_total counter\n");
        for (int gen = 0; gen <= GC.MaxGeneration; gen++)
            sb.Append(CultureInfo.InvariantCulture, $"dotnet_gc_collections_total{{generation=\"{gen}\"}} {GC.CollectionCount(gen)}\n");
        Counter(sb, "dotnet_gc_allocated_bytes_total", "Bytes allocated on the managed heap since start.", GC.GetTotalAllocatedBytes(false));
        Gauge(sb, "dotnet_gc_heap_bytes", "Managed heap size after the last collection (before the first one: bytes in use now).", HeapBytes());
        Gauge(sb, "process_working_set_bytes", "Resident memory of the process.", Environment.WorkingSet);
        sb.Append("# HELP gateway_protocol_errors_total Connections failed for breaking the WebSocket protocol, by close code.\n# TYPE gateway_protocol_errors_total counter\n");
        for (int i = 0; i < _protocolErrors.Length; i++)
        {
            long v = Volatile.Read(ref _protocolErrors[i]);
            if (v != 0) sb.Append(CultureInfo.InvariantCulture, $"gateway_protocol_errors_total{{code=\"{1000 + i}\"}} {v}\n");
        }
        AppendAcceptMetrics(sb);
        return sb.ToString();
    }

    // GetGCMemoryInfo describes the last collection and reads 0 until there has been one, which right after
    // start says "no heap" to a dashboard; the current total is the honest figure until then.
    internal static long HeapBytes()
    {
        long afterLastGc = GC.GetGCMemoryInfo().HeapSizeBytes;
        return afterLastGc > 0 ? afterLastGc : GC.GetTotalMemory(forceFullCollection: false);
    }

    private static void Counter(StringBuilder sb, string name, string help, long value) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n{name} {Volatile.Read(ref value)}\n");

    private static void Gauge(StringBuilder sb, string name, string help, long value) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");

    // The accept loop: errors by cause, pauses at the connection limit, the limit in force.
    private readonly long[] _acceptErrors = new long[3]; // by AcceptErrorReason
    private long _acceptPauses;

    /// <summary>The connection limit in force (Limits:MaxConnections or the one derived from the descriptor limit; 0 = none).</summary>
    public int ConnectionLimit { get; internal set; }
    public long AcceptErrors(AcceptErrorReason reason) => Volatile.Read(ref _acceptErrors[(int)reason]);
    public long AcceptPauses => Volatile.Read(ref _acceptPauses);
    internal void AcceptError(AcceptErrorReason reason) => Interlocked.Increment(ref _acceptErrors[(int)reason]);
    internal void AcceptPaused() => Interlocked.Increment(ref _acceptPauses);

    private void AppendAcceptMetrics(StringBuilder sb)
    {
        sb.Append("# HELP gateway_accept_errors_total Failed accepts, by cause (too_many_open_files: EMFILE/ENFILE; no_buffer_space; transient: the client gave up first).\n# TYPE gateway_accept_errors_total counter\n");
        foreach (var reason in Enum.GetValues<AcceptErrorReason>())
            sb.Append(CultureInfo.InvariantCulture, $"gateway_accept_errors_total{{reason=\"{ReasonLabel(reason)}\"}} {AcceptErrors(reason)}\n");
        Counter(sb, "gateway_accept_paused_total", "Times accepting paused because Limits:MaxConnections and its over-limit slots were all in use.", _acceptPauses);
        Gauge(sb, "gateway_connection_limit", "The connection limit in force (Limits:MaxConnections, or derived from the descriptor limit; 0 = none).", ConnectionLimit);
    }

    private static string ReasonLabel(AcceptErrorReason reason) => reason switch
    {
        AcceptErrorReason.TooManyOpenFiles => "too_many_open_files",
        AcceptErrorReason.NoBufferSpace => "no_buffer_space",
        _ => "transient",
    };

    public void Dispose() => _meter.Dispose();
}
