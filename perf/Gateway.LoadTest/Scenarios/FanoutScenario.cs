using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using Gateway.LoadTest.Core;
using Gateway.LoadTest.Net;
using Gateway.LoadTest.Protocols;
using Gateway.LoadTest.Reporting;

namespace Gateway.LoadTest.Scenarios;

/// <summary>How a fanout subscriber joins the topic.</summary>
public enum SubscribeVia
{
    /// <summary>The gateway's built-in <c>$subscribe {"topic"}</c> (needs the topic in Gateway:Topics:ClientSubscribe).</summary>
    Subscribe,
    /// <summary>The chat sample's <c>chat/join {"room"}</c>, which subscribes to <c>room:NAME</c> itself.</summary>
    Join,
}

/// <summary>
/// Topic fan-out: S subscriber connections on one topic, P publisher connections each keeping K
/// <c>chat/send</c> publishes in flight (the load simulation drives the publishers). Each publish carries its
/// send timestamp and a sequence number in its text (<see cref="FanoutText"/>); every subscriber reads them
/// out of each event's bytes on its receive loop, records the publish-to-receive latency and counts what
/// arrives, so deliveries expected (publishes × subscribers) can be set against deliveries received.
/// </summary>
public sealed class FanoutScenario(
    int subscribers, int publishers, int inflight, string topic, SubscribeVia via, int payloadBytes, int perSource, TimeSpan drain,
    bool inlineCompletions, bool mixedFormats, IReadOnlyList<LoadSimulation> load, string loadSpec, TimeSpan duration, TimeSpan warmup, RunSettings settings,
    string payloadKind = "alphabet", int inflateSample = 1) : Scenario
{
    /// <summary>A drain ends early once nothing arrived for this long and no publish is outstanding.</summary>
    private static readonly TimeSpan QuietEnd = TimeSpan.FromSeconds(1);
    private static readonly string[] CounterNames =
        [ServerMetrics.EventsPublished, ServerMetrics.EventsDelivered, ServerMetrics.SlowConsumerDrops, ServerMetrics.SlowConsumerCloses];

    private WsConnection[] _subscribers = [];
    private WsConnection[] _publishers = [];
    private FanoutSubscriber[] _sinks = [];
    private Publisher[] _publisherStates = [];
    private IPAddress?[] _sources = [null];
    private MeasureWindow _window = MeasureWindow.Never;
    private volatile bool _publishing = true;
    private long _timeoutTicks;
    private int _timeoutError;
    private long _eventsAtStart, _eventsAtEnd, _stampedAtStart;
    private Dictionary<string, double>? _countersBefore, _countersAfter;
    private double _drainSeconds;
    private long _lastEvents, _lastEventsTs;
    private double _eventRate;

    public static string RoomOf(string topic) => topic["room:".Length..];

    /// <summary>The gateway's other wire format (for a mixed audience).</summary>
    private static WireProtocol OtherFormat(WireProtocol protocol) =>
        protocol is GatewayMsgPackProtocol ? new GatewayProtocol() : new GatewayMsgPackProtocol();

    public override string Name => "fanout";
    public override string StepUnit => "publishes";
    public override IReadOnlyList<LoadSimulation> Load => load;
    public override int MaxCopies => publishers * inflight;

    public override IReadOnlyList<(string Name, string Value)> Parameters =>
    [
        ("subscribers", subscribers.ToString(CultureInfo.InvariantCulture)),
        ("publishers", publishers.ToString(CultureInfo.InvariantCulture)),
        ("inflight", inflight.ToString(CultureInfo.InvariantCulture)),
        ("topic", topic),
        ("subscribe", via == SubscribeVia.Join ? "chat/join" : "$subscribe"),
        ("subscriber formats", mixedFormats ? $"mixed: every other subscriber speaks {OtherFormat(settings.Target.Protocol).SubProtocol}" : settings.Target.Protocol.SubProtocol ?? settings.Target.Protocol.Name),
        ("payload", payloadBytes.ToString(CultureInfo.InvariantCulture)),
        ("payloadKind", payloadKind),
        ("inflateSample", inflateSample.ToString(CultureInfo.InvariantCulture)),
        ("deflate", settings.Target.Deflate ? "offered" : "off"),
        ("duration", Durations.Format(duration)),
        ("warmup", Durations.Format(warmup)),
        ("load", loadSpec),
        ("drain", Durations.Format(drain)),
        ("timeout", Durations.Format(settings.RequestTimeout)),
        ("socket completions", inlineCompletions ? "inline" : "pool"),
        ("source addresses", _sources.Length == 0 || _sources[0] is null ? "kernel's choice" : $"{_sources[0]} .. {_sources[^1]}"),
    ];

    // ---------------------------------------------------------------- setup

    public override async Task InitAsync(RunContext context)
    {
        var protocol = settings.Target.Protocol;
        var ct = context.Cancellation;
        _window = context.Window;
        int total = subscribers + publishers;
        _sources = ConnectionsScenario.Plan(total, perSource, settings.Target.EndPoint, settings.ServerPid, context.Log);
        int per = (total + _sources.Length - 1) / _sources.Length;
        IPAddress? SourceOf(int i) => _sources[Math.Min(i / per, _sources.Length - 1)];

        context.Log($"connecting {subscribers} subscriber(s) and {publishers} publisher(s) to {settings.Target.Url}");
        // An event is a few hundred bytes; 16 KiB holds what piles up between two reads.
        _subscribers = await Connector.ConnectManyAsync(settings.Target, mixedFormats ? (subscribers + 1) / 2 : subscribers, 64, 16 * 1024, ct, SourceOf);
        if (mixedFormats)
        {
            // The other half speaks the other wire format: one publish reaches a JSON and a MessagePack audience.
            int first = _subscribers.Length;
            var other = await Connector.ConnectManyAsync(settings.Target with { Protocol = OtherFormat(protocol) }, subscribers - first, 64, 16 * 1024, ct,
                i => SourceOf(first + i));
            _subscribers = [.. _subscribers, .. other];
        }
        _publishers = await Connector.ConnectManyAsync(settings.Target, publishers, 64, 16 * 1024, ct, i => SourceOf(subscribers + i));

        // Subscribers: one request slot for the subscribe, then only events.
        RequestTemplate SubscribeTemplate(WireProtocol p) => via == SubscribeVia.Join ? p.Join(RoomOf(topic)) : p.Subscribe(topic);
        var subscribe = SubscribeTemplate(protocol);
        var subscribeOther = mixedFormats ? SubscribeTemplate(OtherFormat(protocol)) : subscribe;
        var firstEvent = new Latch(subscribers);
        // Samples per subscriber: room for a 10 s run at ~400 events/s each before growing (in 64 KiB chunks).
        int capacity = subscribers / inflateSample >= 5000 ? 1024 : 4096;
        _sinks = new FanoutSubscriber[subscribers];
        for (int i = 0; i < subscribers; i++)
        {
            var c = _subscribers[i];
            c.AddSlots(ReferenceEquals(c.Protocol, protocol) ? subscribe : subscribeOther, 1, isStream: false, expectedItems: 0);
            c.Window = context.Window;
            bool sampled = IsSampled(i);
            c.Events = _sinks[i] = new FanoutSubscriber(c.Protocol, context.Window, publishers, firstEvent, sampled ? capacity : 1, sampled);
            c.Start();
        }
        context.Log($"subscribing {subscribers} connection(s) to {topic} ({(via == SubscribeVia.Join ? "chat/join" : "$subscribe")})");
        await SubscribeAllAsync(ct);

        // The first publish checks the whole path: chat/send answered, and the event reaches every subscriber.
        var templates = new RequestTemplate[publishers];
        for (int p = 0; p < publishers; p++) templates[p] = protocol.Publish(RoomOf(topic), FanoutText.Build(p, payloadBytes, payloadKind));
        await ProbeAsync(templates[0], firstEvent, context);
        // The probe's event reached (and was read by) every subscriber and nothing else is in flight: from here on the
        // unsampled ones only count what arrives, so each later message is one event of the load.
        for (int i = 0; i < subscribers; i++)
            if (!_sinks[i].Sampled) _subscribers[i].CountOnly = true;
        if (inflateSample > 1)
            context.Log($"{_sinks.Count(x => x.Sampled)} of {subscribers} subscribers (every {inflateSample}th) read each event; the others count them unread");
        _eventsAtStart = _sinks.Sum(s => s.Events);
        _stampedAtStart = _sinks.Sum(s => s.Stamped);
        _countersBefore = await ServerMetrics.ReadAsync(settings.Target, CounterNames, ct);

        _publisherStates = new Publisher[publishers];
        for (int p = 0; p < publishers; p++)
        {
            var c = _publishers[p];
            c.AddSlots(templates[p], inflight, isStream: false, expectedItems: 0);
            c.Window = context.Window;
            _publisherStates[p] = new Publisher();
            c.Start();
        }
        _timeoutTicks = (long)(settings.RequestTimeout.TotalSeconds * Stopwatch.Frequency);
        _timeoutError = ErrorTable.Intern($"timeout: no reply within {Durations.Format(settings.RequestTimeout)}");
    }

    private async Task SubscribeAllAsync(CancellationToken ct)
    {
        var pending = _subscribers.Select(c => c.Execute(c.Slots[0]).AsTask()).ToArray();
        StepResult[] results;
        try
        {
            results = await Task.WhenAll(pending).WaitAsync(settings.RequestTimeout, ct);
        }
        catch (TimeoutException)
        {
            int waiting = pending.Count(t => !t.IsCompleted);
            throw new HandshakeException($"{waiting} of {subscribers} subscriptions to {topic} got no answer within {Durations.Format(settings.RequestTimeout)}");
        }
        var failed = results.Where(r => !r.IsOk).ToArray();
        if (failed.Length == 0) return;
        string reason = ErrorTable.Describe(failed[0].ErrorId);
        string hint = reason.Contains("PERMISSION_DENIED", StringComparison.Ordinal)
            ? $" — the topic must match Gateway:Topics:ClientSubscribe (the default opens room:* and ticker), or use --subscribe join"
            : reason.Contains("NOT_FOUND", StringComparison.Ordinal) || reason.Contains("UNIMPLEMENTED", StringComparison.Ordinal)
                ? " — chat/join needs the sample plugin (make plugins)" : "";
        throw new HandshakeException($"{failed.Length} of {subscribers} subscriptions to {topic} failed: {reason}{hint}");
    }

    private async Task ProbeAsync(RequestTemplate template, Latch firstEvent, RunContext context)
    {
        byte[] answer;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.Cancellation))
        {
            timeout.CancelAfter(settings.RequestTimeout);
            try
            {
                answer = await _publishers[0].ProbeAsync(template, timeout.Token);
            }
            catch (OperationCanceledException) when (!context.Cancellation.IsCancellationRequested)
            {
                throw new HandshakeException($"no answer to a first chat/send within {Durations.Format(settings.RequestTimeout)}");
            }
        }
        var span = answer.AsSpan();
        if (settings.Target.Protocol.IsErrorReply(span) || !settings.Target.Protocol.IsResultReply(span))
        {
            string shown = System.Text.Encoding.UTF8.GetString(answer, 0, Math.Min(answer.Length, 300));
            throw new HandshakeException($"the first chat/send was not accepted (the publisher needs the sample plugin's chat service: make plugins); the server answered: {shown}");
        }
        try
        {
            await firstEvent.Task.WaitAsync(settings.RequestTimeout, context.Cancellation);
        }
        catch (TimeoutException)
        {
            throw new HandshakeException($"{firstEvent.Remaining} of {subscribers} subscribers got no event within {Durations.Format(settings.RequestTimeout)} of the first chat/send to {topic}");
        }
        var unreadable = _sinks.FirstOrDefault(s => Volatile.Read(ref s.Stamped) == 0);
        if (unreadable is not null)
        {
            string shown = unreadable.ForeignSample is { } f ? System.Text.Encoding.UTF8.GetString(f) : "(none)";
            throw new HandshakeException($"subscribers get events but cannot read the publish stamp out of them; an event: {shown}");
        }
        context.Log($"probe OK: chat/send answered ({answer.Length}-byte reply), its event reached all {subscribers} subscriber(s)");
    }

    public override void InitUser(VirtualUser user)
    {
        int p = user.Index % publishers;
        user.State = new PublishUser(_publishers[p].Slots[user.Index / publishers], _publisherStates[p]);
    }

    // ---------------------------------------------------------------- load

    public override ValueTask<StepResult> StepAsync(VirtualUser user)
    {
        if (!_publishing) return new ValueTask<StepResult>(StepResult.OkAndStop);
        var u = (PublishUser)user.State!;
        ValueTask<StepResult> pending;
        // Begin stamps the connection's next sequence number; under this lock the sequence order is also the
        // order the frames are queued in, so a subscriber that sees it go backwards saw the server reorder.
        lock (u.Publisher) pending = u.Slot.Connection.Execute(u.Slot);
        return TrackAsync(pending, u);
    }

    /// <summary>Counts the publishes sent inside the window and acknowledged: each one owes an event to every subscriber.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<StepResult> TrackAsync(ValueTask<StepResult> pending, PublishUser u)
    {
        long sentAt = u.Slot.StartTimestamp;
        var r = await pending;
        if (r.IsOk)
        {
            Interlocked.Increment(ref u.Publisher.Acked);
            if (_window.Contains(sentAt)) Interlocked.Increment(ref u.Publisher.AckedInWindow);
        }
        return r;
    }

    public override void OnTick(long now)
    {
        foreach (var c in _publishers) c.ExpireRequests(now, _timeoutTicks, _timeoutError);
    }

    /// <summary>
    /// After the window: publishers stop, and the events still on their way are waited for (at most --drain;
    /// earlier once every acknowledged publish, the window's and the few after it, reached every subscriber,
    /// or once nothing arrived for a second with no publish outstanding).
    /// </summary>
    public override async Task AfterLoadAsync(RunContext context)
    {
        _publishing = false;
        var sw = Stopwatch.StartNew();
        long lastDelivered = -1;
        var lastProgress = TimeSpan.Zero;
        context.Log($"publishers stopped; waiting up to {Durations.Format(drain)} for the window's events still in flight");
        while (!context.Cancellation.IsCancellationRequested && sw.Elapsed < drain)
        {
            long delivered = Delivered();
            bool outstanding = _publishers.Any(c => !c.IsClosed && c.Slots.Any(s => Volatile.Read(ref s.Pending) == 1));
            if (!outstanding && delivered >= Expected() && Stamped() - _stampedAtStart >= AckedTotal() * subscribers) break;
            if (delivered != lastDelivered)
            {
                lastDelivered = delivered;
                lastProgress = sw.Elapsed;
            }
            else if (!outstanding && sw.Elapsed - lastProgress >= QuietEnd) break;
            try { await Task.Delay(10, context.Cancellation); } catch (OperationCanceledException) { break; }
        }
        _drainSeconds = sw.Elapsed.TotalSeconds;
        _eventsAtEnd = _sinks.Sum(s => Volatile.Read(ref s.Events));
        _countersAfter = await ServerMetrics.ReadAsync(settings.Target, CounterNames, CancellationToken.None);
    }

    private bool IsSampled(int subscriber) => subscriber % inflateSample == 0;

    private long Delivered()
    {
        long total = AckedTotal(), inWindow = Acked(), n = 0;
        foreach (var s in _sinks) n += DeliveredInWindow(s, total, inWindow);
        return n;
    }

    /// <summary>A sampled subscriber's deliveries are known by their stamps; an unsampled one's are counted (<see cref="FanoutAccounting"/>).</summary>
    private static long DeliveredInWindow(FanoutSubscriber s, long ackedTotal, long ackedInWindow) =>
        s.Sampled ? Volatile.Read(ref s.InWindow) : FanoutAccounting.UnreadInWindow(ackedTotal, ackedInWindow, Volatile.Read(ref s.Unread));

    /// <summary>Events accounted for since the start: stamped ones (the probe's included) plus those counted unread.</summary>
    private long Stamped()
    {
        long n = 0;
        foreach (var s in _sinks) n += Volatile.Read(ref s.Stamped) + Volatile.Read(ref s.Unread);
        return n;
    }

    private long AckedTotal() => _publisherStates.Sum(p => Interlocked.Read(ref p.Acked));
    private long Acked() => _publisherStates.Sum(p => Interlocked.Read(ref p.AckedInWindow));
    private long Expected() => Acked() * subscribers;

    public override (long In, long Out) Bytes()
    {
        long i = 0, o = 0;
        foreach (var c in _subscribers.Concat(_publishers))
        {
            if (c is null) continue;
            i += Volatile.Read(ref c.BytesReceived);
            o += Volatile.Read(ref c.BytesSent);
        }
        return (i, o);
    }

    public override (long In, long Out, int Connections) CompressionSaved()
    {
        var (i, o, n) = SumCompression(_subscribers.Concat(_publishers));
        // Unsampled subscribers do not inflate, so what compression saved on their events is not known from their own
        // bytes; every event of a run has the same text but its stamp, so the sampled subscribers' saving per event is theirs.
        long unread = 0, inflated = 0, savedInflated = 0;
        foreach (var c in _subscribers)
        {
            if (c is null) continue;
            unread += Volatile.Read(ref c.CompressedUnread);
            inflated += Volatile.Read(ref c.CompressedReceived);
            savedInflated += Volatile.Read(ref c.ReceivedBytesSaved);
        }
        if (unread > 0 && inflated > 0) i += (long)Math.Round(unread * (savedInflated / (double)inflated));
        return (i, o, n);
    }

    public override IEnumerable<(string Name, string Value)> ProgressExtras()
    {
        int open = _subscribers.Count(c => c is { IsClosed: false });
        yield return ("subscribers", $"{open}/{subscribers} open");
        long events = 0;
        // The display asks while InitAsync is still filling the array in.
        foreach (var s in _sinks) if (s is not null) events += Volatile.Read(ref s.Events);
        long ts = Stopwatch.GetTimestamp();
        if (_lastEventsTs != 0) _eventRate = (events - _lastEvents) / Stopwatch.GetElapsedTime(_lastEventsTs, ts).TotalSeconds;
        _lastEvents = events;
        _lastEventsTs = ts;
        yield return ("events received", $"{events:N0} ({_eventRate:N0}/s)");
    }

    // ---------------------------------------------------------------- results

    public override void Complete(ScenarioResult result, RunContext context)
    {
        string I(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
        long acked = Acked();
        long expected = acked * subscribers;
        long delivered = Delivered();
        long missing = Math.Max(0, expected - delivered);
        double seconds = Math.Max(result.DurationSeconds, 1e-9);

        int sampledCount = _sinks.Count(s => s.Sampled);
        result.Latencies.Add(("deliveryLatencyUs", inflateSample > 1 ? $"events, publish → receive ({sampledCount} sampled subscribers)" : "events, publish → receive",
            LatencyRecorder.Summarize(_sinks.Where(s => s.Sampled).Select(s => s.Latency))));
        result.Extra.Add(("subscribers", "subscribers", subscribers, I(subscribers)));
        result.Extra.Add(("publishers", "publishers × in flight", publishers, $"{publishers} × {inflight}"));
        result.Extra.Add(("inflateSample", "subscribers that read each event (--inflate-sample): every Nth", inflateSample,
            inflateSample == 1 ? "all" : $"every {inflateSample}th: {I(sampledCount)} read, {I(subscribers - sampledCount)} count unread"));
        result.Extra.Add(("sampledSubscribers", "subscribers that read each event", sampledCount, I(sampledCount)));
        result.Extra.Add(("publishesInWindow", "publishes sent in the window and acknowledged", acked, I(acked)));
        result.Extra.Add(("expectedDeliveries", "deliveries expected (publishes × subscribers)", expected, I(expected)));
        result.Extra.Add(("deliveredEvents", "deliveries received", delivered,
            $"{I(delivered)}{(expected > 0 ? $" ({100.0 * delivered / expected:0.###} %)" : "")}"));
        result.Extra.Add(("missingDeliveries", "deliveries missing", missing, I(missing)));
        result.Extra.Add(("deliveredEventsPerSecond", "delivered events/s (all subscribers)", delivered / seconds, Format.Rate(delivered / seconds)));
        long ackedTotal = AckedTotal();
        long minPer = _sinks.Length > 0 ? _sinks.Min(s => DeliveredInWindow(s, ackedTotal, acked)) : 0;
        long maxPer = _sinks.Length > 0 ? _sinks.Max(s => DeliveredInWindow(s, ackedTotal, acked)) : 0;
        result.Extra.Add(("eventsPerSubscriberMin", "events per subscriber, min", minPer, I(minPer)));
        result.Extra.Add(("eventsPerSubscriberMax", "events per subscriber, max", maxPer, I(maxPer)));
        long outOfOrder = _sinks.Sum(s => s.OutOfOrder), gaps = _sinks.Sum(s => s.Gaps);
        string sampledOnly = inflateSample > 1 ? ", sampled subscribers" : "";
        result.Extra.Add(("eventsOutOfOrder", $"events out of order (per publisher sequence{sampledOnly})", outOfOrder, I(outOfOrder)));
        result.Extra.Add(("sequenceGaps", $"sequence numbers skipped (per subscriber{sampledOnly})", gaps, I(gaps)));
        long reads = _subscribers.Sum(c => Volatile.Read(ref c.Reads)), events = _sinks.Sum(x => Volatile.Read(ref x.Events));
        if (reads > 0)
            result.Extra.Add(("eventsPerRead", "events per socket read (subscribers, whole run)", events / (double)reads, $"{events / (double)reads:0.00}"));
        result.Extra.Add(("drainSeconds", "drain after the window", _drainSeconds, $"{_drainSeconds:0.00} s"));
        if (delivered > 0)
        {
            // Sample arrays are storage (8 B per delivery, allocated in chunks), not garbage: counted apart.
            double garbage = Math.Max(0, result.ClientAllocatedBytes - result.ClientSampleBytes) / (double)delivered;
            result.Extra.Add(("clientGarbageBytesPerEvent", "client allocation per delivered event, less latency sample storage", garbage, $"{garbage:0.000} B"));
        }

        long clientEvents = _eventsAtEnd - _eventsAtStart;
        if (_countersBefore is { } before && _countersAfter is { } after)
        {
            double Delta(string name) => after.GetValueOrDefault(name) - before.GetValueOrDefault(name);
            double published = Delta(ServerMetrics.EventsPublished), queued = Delta(ServerMetrics.EventsDelivered);
            double dropped = Delta(ServerMetrics.SlowConsumerDrops), closes = Delta(ServerMetrics.SlowConsumerCloses);
            result.Extra.Add(("serverEventsPublished", "server: publishes (warm-up + window + drain, /metrics)", published, I((long)published)));
            result.Extra.Add(("serverEventsDelivered", "server: event frames queued to subscribers (same span)", queued, I((long)queued)));
            result.Extra.Add(("clientEventsReceived", "client: events received (same span)", clientEvents, I(clientEvents)));
            result.Extra.Add(("serverSlowConsumerDrops", "server: events dropped for slow consumers", dropped, I((long)dropped)));
            result.Extra.Add(("serverSlowConsumerCloses", "server: slow consumers closed (1008)", closes, I((long)closes)));
            if (dropped > 0)
                result.Notes.Add($"the server dropped {I((long)dropped)} events for subscribers over Limits:SendBufferLimitBytes (the subscribers did not read fast enough: check the client CPU)");
        }
        else
        {
            result.Notes.Add($"the server's counters could not be read from {ServerMetrics.Url(settings.Target)}: no server-side delivered/dropped figures");
        }

        int lost = _subscribers.Concat(_publishers).Count(c => c.Lost);
        result.Extra.Add(("connectionsLost", "connections lost during the run", lost, lost.ToString(CultureInfo.InvariantCulture)));
        foreach (var c in _subscribers.Concat(_publishers).Where(c => c.Lost).Select(c => c.CloseReason).Distinct().Take(3))
            result.Notes.Add($"a connection was closed during the run: {c}");
        if (missing > 0)
            result.Notes.Add($"{I(missing)} of {I(expected)} expected deliveries did not arrive within the {_drainSeconds:0.0} s drain ({100.0 * missing / Math.Max(1, expected):0.###} %)");
        if (outOfOrder > 0)
            result.Notes.Add($"{I(outOfOrder)} events arrived after a later event of the same publisher");
        long foreign = _sinks.Sum(s => s.Foreign);
        if (foreign > 0) result.Notes.Add($"{I(foreign)} events without a readable publish stamp (another publisher on {topic}?)");
        long unmatched = _subscribers.Concat(_publishers).Sum(c => c.UnmatchedReplies);
        if (unmatched > 0) result.Notes.Add($"{I(unmatched)} replies matched no outstanding request (late replies to timed-out publishes?)");
        long invalid = _subscribers.Concat(_publishers).Sum(c => c.InvalidMessages);
        if (invalid > 0) result.Notes.Add($"{I(invalid)} messages from the server could not be parsed");
        if (result.ClientCpuPercent >= 90)
            result.Notes.Add($"the load tool used {result.ClientCpuPercent:0} % of its {result.Cores} core(s): it may be what limits the figures");
    }

    public override async Task CleanupAsync(RunContext context)
    {
        var all = _subscribers.Concat(_publishers).Where(c => c is not null).ToArray();
        if (all.Length == 0) return;
        context.Log($"closing {all.Length} connection(s)");
        foreach (var batch in all.Chunk(2000))
            await Task.WhenAll(batch.Select(c => c.CloseAsync(TimeSpan.FromSeconds(2))));
    }

    // ---------------------------------------------------------------- parts

    /// <summary>One publisher connection's shared state; also the lock that orders its sends.</summary>
    private sealed class Publisher
    {
        /// <summary>Publishes acknowledged since the probe.</summary>
        public long Acked;
        /// <summary>Of those, the ones sent inside the measured window.</summary>
        public long AckedInWindow;
    }

    private sealed record PublishUser(RequestSlot Slot, Publisher Publisher);

    /// <summary>Completes once every subscriber has seen its first event.</summary>
    private sealed class Latch
    {
        private int _remaining;
        private readonly TaskCompletionSource _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Latch(int count)
        {
            _remaining = count;
            if (count <= 0) _tcs.TrySetResult();
        }

        public Task Task => _tcs.Task;
        public int Remaining => Volatile.Read(ref _remaining);
        public void Signal()
        {
            if (Interlocked.Decrement(ref _remaining) == 0) _tcs.TrySetResult();
        }
    }

    /// <summary>
    /// One subscriber's receive side, called on its connection's receive loop for every event: reads the
    /// stamp out of the bytes, records publish-to-receive latency for publishes sent in the window, counts,
    /// and follows each publisher's sequence. Single-threaded per subscriber; no allocation per event.
    /// </summary>
    private sealed class FanoutSubscriber(WireProtocol protocol, MeasureWindow window, int publishers, Latch firstEvent, int capacity, bool sampled) : IEventSink
    {
        /// <summary>Reads every event (else, after the probe, counts them unread: <see cref="WsConnection.CountOnly"/>).</summary>
        public readonly bool Sampled = sampled;
        /// <summary>Events counted unread.</summary>
        public long Unread;
        private readonly long[] _lastSeq = new long[publishers];
        private int _hint;
        private bool _seen;

        public readonly LatencyRecorder Latency = new(capacity, maxChunk: 8 * 1024);
        /// <summary>Every event message (read by other threads for progress).</summary>
        public long Events;
        /// <summary>Events whose stamp could be read.</summary>
        public long Stamped;
        /// <summary>Stamped events of publishes sent inside the window.</summary>
        public long InWindow;
        public long OutOfOrder;
        public long Gaps;
        public long Foreign;
        public byte[]? ForeignSample;

        public void OnEvent(ReadOnlySpan<byte> message, long receivedAt)
        {
            Volatile.Write(ref Events, Events + 1);
            if (!protocol.TryReadFanoutStamp(message, ref _hint, out long sentAt, out int publisher, out long seq) || (uint)publisher >= (uint)_lastSeq.Length)
            {
                ForeignSample ??= message[..Math.Min(message.Length, 300)].ToArray();
                Volatile.Write(ref Foreign, Foreign + 1);
                SignalFirst();
                return;
            }
            Volatile.Write(ref Stamped, Stamped + 1);
            // After the counts: whoever waits for the first event reads them.
            SignalFirst();
            bool inWindow = window.Contains(sentAt);
            long last = _lastSeq[publisher];
            if (seq > last)
            {
                if (inWindow && seq > last + 1) Gaps += seq - last - 1;
                _lastSeq[publisher] = seq;
            }
            else if (inWindow)
            {
                OutOfOrder++;
            }
            if (!inWindow) return;
            Volatile.Write(ref InWindow, InWindow + 1);
            Latency.Record(receivedAt - sentAt);
        }

        public void OnUnreadEvent(long receivedAt)
        {
            Volatile.Write(ref Events, Events + 1);
            Volatile.Write(ref Unread, Unread + 1);
        }

        private void SignalFirst()
        {
            if (_seen) return;
            _seen = true;
            firstEvent.Signal();
        }
    }
}

/// <summary>
/// How fanout accounts for a subscriber that counts events without reading them (--inflate-sample): it cannot tell which
/// publish an event belongs to, only how many arrived. Every publish acknowledged since the load began is owed to every
/// subscriber, so what it lacks of that total is missing, and the missing ones are charged to the window: the figure
/// is never more than a subscriber that read every stamp would report, and it is exact when nothing is missing.
/// </summary>
public static class FanoutAccounting
{
    /// <param name="ackedTotal">Publishes acknowledged since the load began (warm-up, window and after).</param>
    /// <param name="ackedInWindow">Of those, the ones sent inside the measured window.</param>
    /// <param name="unread">Events the subscriber counted since the load began (after the drain).</param>
    /// <returns>The subscriber's deliveries of the window's publishes.</returns>
    public static long UnreadInWindow(long ackedTotal, long ackedInWindow, long unread)
    {
        long missing = Math.Max(0, ackedTotal - unread);
        return Math.Clamp(ackedInWindow - missing, 0, ackedInWindow);
    }
}
