using System.Diagnostics;
using System.Globalization;
using Gateway.LoadTest.Core;
using Gateway.LoadTest.Net;
using Gateway.LoadTest.Protocols;
using Gateway.LoadTest.Reporting;

namespace Gateway.LoadTest.Scenarios;

public enum RequestKind
{
    /// <summary>echo/echo (SignalR: Echo): one request, one reply.</summary>
    Echo,
    /// <summary>echo/count (SignalR: Count): one subscription, n items, then the end.</summary>
    Stream,
}

/// <summary>
/// C connections, each with K request slots (K requests in flight, pipelined); every virtual user owns
/// one slot and loops: send, await the matching reply. The rpc, large and stream scenarios.
/// </summary>
public sealed class RequestScenario(
    string name, RequestKind kind, int connections, int inflight, int payloadBytes, int items,
    IReadOnlyList<LoadSimulation> load, string loadSpec, TimeSpan duration, TimeSpan warmup, RunSettings settings,
    string payloadKind = "alphabet") : Scenario
{
    private WsConnection[] _connections = [];
    private long _timeoutTicks;
    private int _timeoutError;
    private long _lastItems, _lastItemsTs;
    private double _itemRate;

    public override string Name => name;
    public override string StepUnit => kind == RequestKind.Stream ? "subscriptions" : "requests";
    public override IReadOnlyList<LoadSimulation> Load => load;
    public override int MaxCopies => connections * inflight;

    public override IReadOnlyList<(string Name, string Value)> Parameters =>
    [
        ("connections", connections.ToString(CultureInfo.InvariantCulture)),
        ("inflight", inflight.ToString(CultureInfo.InvariantCulture)),
        kind == RequestKind.Echo ? ("payload", payloadBytes.ToString(CultureInfo.InvariantCulture)) : ("items", items.ToString(CultureInfo.InvariantCulture)),
        ("payloadKind", kind == RequestKind.Echo ? payloadKind : "-"),
        ("deflate", settings.Target.Deflate ? "offered" : "off"),
        ("duration", Durations.Format(duration)),
        ("warmup", Durations.Format(warmup)),
        ("load", loadSpec),
        ("timeout", Durations.Format(settings.RequestTimeout)),
    ];

    public override async Task InitAsync(RunContext context)
    {
        var protocol = settings.Target.Protocol;
        var template = kind == RequestKind.Echo ? protocol.Echo(ChatText.Payload(payloadKind, payloadBytes)) : protocol.Count(items);
        // Room for one reply plus what pipelining piles up; large messages grow the buffer once.
        int receiveBuffer = Math.Clamp(template.Payload.Length * 2 + 4096, 16 * 1024, 256 * 1024);
        ConnectionsScenario.CheckFileDescriptors(connections, settings.ServerPid, context.Log);
        context.Log($"connecting {connections} connection(s) to {settings.Target.Url} ({protocol.Name})");
        _connections = await Connector.ConnectManyAsync(settings.Target, connections, 64, receiveBuffer, context.Cancellation);
        if (kind == RequestKind.Echo) await ProbeAsync(template, payloadBytes, context);
        foreach (var c in _connections)
        {
            c.AddSlots(template, inflight, kind == RequestKind.Stream, items);
            c.Window = context.Window;
            if (kind == RequestKind.Stream) c.ItemLatency = new LatencyRecorder(64 * 1024);
            c.Start();
        }
        _timeoutTicks = (long)(settings.RequestTimeout.TotalSeconds * Stopwatch.Frequency);
        _timeoutError = ErrorTable.Intern($"timeout: no reply within {Durations.Format(settings.RequestTimeout)}");
    }

    /// <summary>One request before the load: the server must answer with the text it was sent, else the run stops here.</summary>
    private async Task ProbeAsync(RequestTemplate template, int textLength, RunContext context)
    {
        byte[] answer;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.Cancellation);
            timeout.CancelAfter(settings.RequestTimeout);
            answer = await _connections[0].ProbeAsync(template, timeout.Token);
        }
        catch (OperationCanceledException) when (!context.Cancellation.IsCancellationRequested)
        {
            throw new HandshakeException($"no answer to a first echo request within {Durations.Format(settings.RequestTimeout)}");
        }
        catch (HandshakeException ex) when (ex.Message.Contains("1009", StringComparison.Ordinal))
        {
            throw new HandshakeException(ex.Message + $" — a {template.Payload.Length}-byte request is over the server's message size limit; raise it (gateway: --Gateway:Limits:MaxMessageBytes=4194304) or lower --payload");
        }
        var text = System.Text.Encoding.ASCII.GetBytes(ChatText.Payload(payloadKind, textLength));
        bool isError = settings.Target.Protocol.IsErrorReply(answer);
        if (isError || answer.AsSpan().IndexOf(text) < 0)
        {
            string shown = System.Text.Encoding.UTF8.GetString(answer, 0, Math.Min(answer.Length, 300));
            throw new HandshakeException($"the first echo request was not echoed; the server answered: {shown}{(answer.Length > 300 ? "…" : "")}");
        }
        context.Log($"probe OK: the server echoed a {textLength}-byte text ({answer.Length}-byte reply)");
    }

    public override void InitUser(VirtualUser user) =>
        user.State = _connections[user.Index % connections].Slots[user.Index / connections];

    public override ValueTask<StepResult> StepAsync(VirtualUser user)
    {
        var slot = (RequestSlot)user.State!;
        return slot.Connection.Execute(slot);
    }

    public override void OnTick(long now)
    {
        foreach (var c in _connections) c.ExpireRequests(now, _timeoutTicks, _timeoutError);
    }

    public override (long In, long Out) Bytes()
    {
        long i = 0, o = 0;
        foreach (var c in _connections)
        {
            i += Volatile.Read(ref c.BytesReceived);
            o += Volatile.Read(ref c.BytesSent);
        }
        return (i, o);
    }

    public override (long In, long Out, int Connections) CompressionSaved() => SumCompression(_connections);

    public override IEnumerable<(string Name, string Value)> ProgressExtras()
    {
        int open = _connections.Count(c => !c.IsClosed);
        yield return ("connections", $"{open}/{connections} open");
        if (kind == RequestKind.Stream)
        {
            long itemsNow = _connections.Sum(c => Volatile.Read(ref c.ItemsTotal));
            long ts = Stopwatch.GetTimestamp();
            if (_lastItemsTs != 0) _itemRate = (itemsNow - _lastItems) / Stopwatch.GetElapsedTime(_lastItemsTs, ts).TotalSeconds;
            _lastItems = itemsNow;
            _lastItemsTs = ts;
            yield return ("items", $"{itemsNow:N0} ({_itemRate:N0}/s)");
        }
    }

    public override void Complete(ScenarioResult result, RunContext context)
    {
        if (kind == RequestKind.Stream)
        {
            result.Items = _connections.Sum(c => c.ItemsInWindow);
            result.ItemLatency = LatencyRecorder.Summarize(_connections.Select(c => c.ItemLatency!));
        }
        int closed = _connections.Count(c => c.Lost);
        result.Extra.Add(("connectionsLost", "connections lost during the run", closed, closed.ToString(CultureInfo.InvariantCulture)));
        long unmatched = _connections.Sum(c => c.UnmatchedReplies);
        if (unmatched > 0) result.Notes.Add($"{unmatched} replies matched no outstanding request (late replies to timed-out requests?)");
        long invalid = _connections.Sum(c => c.InvalidMessages);
        if (invalid > 0) result.Notes.Add($"{invalid} messages from the server could not be parsed");
        foreach (var c in _connections.Where(c => c.Lost).Take(3))
            result.Notes.Add($"a connection was closed during the run: {c.CloseReason}");
        if (result.Errors.Any(e => e.Reason.Contains("1009", StringComparison.Ordinal)))
            result.Notes.Add("close 1009 = message too big: raise the server's limit, e.g. gateway --Gateway:Limits:MaxMessageBytes=4194304");
    }

    public override async Task CleanupAsync(RunContext context)
    {
        await Task.WhenAll(_connections.Where(c => c is not null).Select(c => c.CloseAsync(TimeSpan.FromSeconds(2))));
    }
}
