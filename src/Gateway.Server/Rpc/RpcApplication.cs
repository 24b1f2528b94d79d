using System.Buffers;
using System.Collections.Frozen;
using System.Text.Json;
using Gateway.Protocol.Http;
using Gateway.Protocol.Rpc;
using Gateway.Protocol.WebSockets;
using Gateway.Backplane;
using Gateway.Server.Codec;
using Gateway.Server.Push;
using Gateway.Server.WebSockets;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.Rpc;

/// <summary>
/// The RPC endpoint: parses each text message as an envelope, routes it through a frozen table
/// (looked up by span: no string per message) and runs the handler. Requests of a connection start in
/// arrival order and run concurrently, at most <c>Limits:MaxInflightPerConnection</c> at once; at the
/// limit the read loop waits, so the socket is not read and TCP pushes back on the client.
/// </summary>
public sealed class RpcApplication : IWebSocketApplication
{
    private readonly FrozenDictionary<string, Procedure> _procedures;
    private readonly FrozenDictionary<string, Procedure>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly BuiltInAnswers[] _answers;
    private readonly DescribeDocument.Described _described;
    private readonly IEnumerable<string>? _topicPatterns;
    private readonly ProcedureStats _pingStats = new("$ping");
    private readonly ProcedureStats _describeStats = new("$describe");
    private readonly ConnectionHooks? _hooks;
    // True when Gateway:Auth:DescribeVisibleOnly is on and some procedure is guarded: $describe then depends on the caller.
    private readonly bool _describeVisibleOnly;

    internal RpcApplication(IEnumerable<Procedure> procedures, JsonSerializerOptions json, int maxInflight, int maxBadMessages, ILogger logger,
        Options.RateLimitsOptions? rateLimits = null, TimeSpan requestTimeout = default, GatewayMetrics? metrics = null,
        PushHub? hub = null, Options.TopicsOptions? topics = null, IEnumerable<ITopicPolicy>? topicPolicies = null, RpcExtensions? extensions = null)
    {
        RateLimits = rateLimits ?? new Options.RateLimitsOptions();
        Metrics = metrics;
        if (hub is null)
        {
            // Built without a host (tests, benchmarks): a single node of its own, started at once (in memory, synchronous).
            hub = new PushHub(new InMemoryBackplane(), json, metrics ?? new GatewayMetrics(), logger,
                topics?.MaxSubscriptionsPerConnection ?? 100);
            hub.StartAsync().GetAwaiter().GetResult();
        }
        Hub = hub;
        procedures = procedures.Concat(new TopicProcedures(topics?.ClientSubscribe, topicPolicies?.ToArray() ?? []).Bind(json)).Concat(AuthProcedure.Bind(json)).ToList();
        var limits = new List<Options.RateLimitOptions>();
        foreach (var p in procedures)
        {
            if (RateLimits.Procedures.TryGetValue(p.Name, out var limit) && limit.PermitsPerSecond > 0)
            {
                p.RateLimitSlot = limits.Count;
                limits.Add(limit);
            }
            int attributeMs = p.Descriptor.TimeoutMs;
            p.DeadlineMs = attributeMs > 0 ? attributeMs : attributeMs < 0 ? 0 : (long)requestTimeout.TotalMilliseconds;
            if (p.DeadlineMs > 0 && p.Kind != ProcedureKind.Subscription) HasDeadlines = true;
        }
        ProcedureLimits = limits.ToArray();
        extensions ??= new RpcExtensions();
        BindExtensions(procedures, extensions, logger);
        if (extensions.ConnectionHandlers.Count > 0) _hooks = new ConnectionHooks(extensions.ConnectionHandlers.ToArray(), logger, metrics);
        _describeVisibleOnly = extensions.DescribeVisibleOnly && procedures.Any(p => p.Access is not null);
        ProcedureMetrics = new ProcedureMetrics(procedures.Select(p => p.Stats).Append(_pingStats).Append(_describeStats));
        metrics?.ObserveProcedures(ProcedureMetrics);
        _procedures = procedures.ToFrozenDictionary(p => p.Name, StringComparer.Ordinal);
        _lookup = _procedures.GetAlternateLookup<ReadOnlySpan<char>>();
        Json = json;
        MaxInflight = maxInflight;
        MaxBadMessages = maxBadMessages;
        Logger = logger;
        _described = DescribeDocument.Entries(_procedures.Values, json);
        _topicPatterns = topics?.ClientSubscribe;
        Description = _described.Document(_topicPatterns, _ => true);
        _answers = BuildAnswers();
    }

    // The wire formats served, the first being the default for a client that asks for none. A second format is one
    // more entry here; nothing else in dispatch changes.
    private static readonly IWireCodec[] Codecs = [JsonWireCodec.Instance, MessagePackWireCodec.Instance];

    public IReadOnlyList<string> Subprotocols { get; } = Array.ConvertAll(Codecs, c => c.Subprotocol);
    internal JsonSerializerOptions Json { get; }
    internal int MaxInflight { get; }
    internal int MaxBadMessages { get; }
    internal ILogger Logger { get; }
    internal Options.RateLimitsOptions RateLimits { get; }
    internal Options.RateLimitOptions[] ProcedureLimits { get; }
    internal bool HasDeadlines { get; }
    internal GatewayMetrics? Metrics { get; }
    /// <summary>Calls and durations per procedure (exported on /metrics through <see cref="Metrics"/> when there is one).</summary>
    internal ProcedureMetrics ProcedureMetrics { get; }
    /// <summary>Topics, events and server-to-client calls of this node.</summary>
    public PushHub Hub { get; }
    /// <summary>The hub as the RPC layer sees it: connections' push state and the handlers' push API.</summary>
    internal IPushEndpoint Push => Hub;
    /// <summary>What <c>$describe</c> answers (docs/protocol.md): every procedure with its kind and schemas, and the topic patterns.</summary>
    public System.Text.Json.Nodes.JsonObject Description { get; }
    /// <summary>Names of every procedure served, plugins' and built-ins'.</summary>
    public IEnumerable<string> ProcedureNames => _procedures.Keys;

    public ValueTask OnConnectedAsync(WebSocketSession session)
    {
        var connection = new RpcConnection(session, this, CodecFor(session.Subprotocol));
        session.State = connection;
        if (_hooks is null) return default;
        return ConnectAsync(connection);
    }

    private async ValueTask ConnectAsync(RpcConnection connection)
    {
        if (_hooks is { } hooks)
        {
            connection.HookContext = new HookConnectionContext(connection);
            await hooks.ConnectedAsync(connection, connection.HookContext).ConfigureAwait(false);
        }
    }

    /// <summary>Completes when no connection hook is running any more (a graceful stop waits for them), or when <paramref name="cancellationToken"/> fires.</summary>
    internal Task WaitForConnectionHooksAsync(CancellationToken cancellationToken) => _hooks?.WaitIdleAsync(cancellationToken) ?? Task.CompletedTask;

    public async ValueTask DrainAsync(WebSocketSession session, CancellationToken cancellationToken)
    {
        // A graceful stop can reach a session upgraded a moment ago whose connect has not run yet (or is still being
        // authenticated): it has no calls to wait for.
        if (session.State is not RpcConnection connection) return;
        try
        {
            await connection.DrainAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            connection.AbandonRunning();
        }
    }

    public ValueTask OnDisconnectedAsync(WebSocketSession session)
    {
        var connection = (RpcConnection)session.State!;
        connection.Close();
        connection.HookContext?.Ended();
        Push.Disconnect(connection.Push);
        if (_hooks is not null && connection.HookContext is { } context)
            _hooks.Disconnected(connection, context, session.EndReason ?? new DisconnectReason(DisconnectKind.ConnectionLost, null, "connection lost"));
        return default;
    }

    // The 512-byte path buffer is written before it is read (PathLength counts what the envelope decoded into it): not
    // zeroing it saves a memset on every message.
    [System.Runtime.CompilerServices.SkipLocalsInit]
    public ValueTask OnMessageAsync(WebSocketSession session, Opcode opcode, ReadOnlySequence<byte> payload)
    {
        var connection = (RpcConnection)session.State!;
        var codec = connection.Codec;
        if (opcode != connection.FrameOpcode)
        {
            // The client speaks another format than it negotiated: nothing it sends can be read, so the connection ends
            // (1003, unsupported data) rather than answering each message.
            connection.Faults.WrongFrameType(opcode == Opcode.Text ? "text" : "binary", codec.Subprotocol, WrongFrameMessage(codec));
            return default;
        }
        Span<char> path = stackalloc char[JsonEnvelope.MaxPathLength];
        codec.ReadEnvelope(payload, path, out var envelope, Json.MaxDepth);
        if (envelope.Kind is EnvelopeKind.Request or EnvelopeKind.Notification)
        {
            if (connection.Calls.InflightCount >= MaxInflight || session.IsOverSendLimit) return DispatchWhenSlotFreeAsync(connection, payload);
            // Messages read before the transport closed are still delivered; a handler started now would only be
            // cancelled at once, so a client that is gone gets no work started for it (as in DispatchWhenSlotFreeAsync).
            if (session.IsClosed) return default;
        }
        return Dispatch(connection, ref envelope, path.Slice(0, envelope.PathLength));
    }

    private async ValueTask DispatchWhenSlotFreeAsync(RpcConnection connection, ReadOnlySequence<byte> payload)
    {
        // The session does not consume the message until this completes, so the bytes stay valid.
        // A client that does not read its replies gets no more work done for it (and its socket is not read).
        await connection.Session.WaitForSendRoomAsync().ConfigureAwait(false);
        while (connection.Calls.InflightCount >= MaxInflight && !connection.Session.IsClosed)
            await connection.Calls.WaitForSlotAsync().ConfigureAwait(false);
        // The client went away while this message waited: nobody is left to answer, so no handler is started for it.
        if (connection.Session.IsClosed) return;
        var path = ArrayPool<char>.Shared.Rent(JsonEnvelope.MaxPathLength);
        try
        {
            connection.Codec.ReadEnvelope(payload, path, out var envelope, Json.MaxDepth);
            var dispatched = Dispatch(connection, ref envelope, path.AsSpan(0, envelope.PathLength));
            await dispatched.ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(path);
        }
    }

    // Returns a pending task only while an authorization policy is answering: the read loop then waits (the message
    // bytes stay valid, the calls keep their order).
    private ValueTask Dispatch(RpcConnection connection, ref Envelope envelope, ReadOnlySpan<char> path)
    {
        var id = envelope.HasId ? new RequestId(envelope.Id) : RequestId.None;
        switch (envelope.Kind)
        {
            case EnvelopeKind.Invalid:
                connection.Replies.SendError(id, ErrorCode.InvalidArgument, envelope.Problem!);
                connection.Faults.BadMessage(envelope.Problem!);
                return default;
            case EnvelopeKind.Cancel:
                connection.Faults.GoodMessage();
                connection.Cancel(envelope.Id);
                return default;
            case EnvelopeKind.Result:
            case EnvelopeKind.Error:
                // The client answers a call the server made (IConnections.CallAsync).
                connection.Faults.GoodMessage();
                connection.CompleteServerCall(ref envelope);
                return default;
            case EnvelopeKind.Progress:
                // Progress on a server call: allowed by the protocol, nothing waits for it.
                connection.Faults.GoodMessage();
                return default;
        }
        connection.Faults.GoodMessage();
        _lookup.TryGetValue(path, out var procedure);
        if (connection.Calls.Draining)
        {
            StatsFor(procedure, path).Count(ErrorCode.Unavailable);
            if (envelope.HasId) connection.Replies.SendError(id, ErrorCode.Unavailable, "server is shutting down; retry on another instance");
            return default;
        }
        if (!connection.TryAdmit(procedure, out var retryAfter))
        {
            StatsFor(procedure, path).Count(ErrorCode.ResourceExhausted);
            if (envelope.HasId) connection.Replies.SendError(id, ErrorCode.ResourceExhausted, "rate limit exceeded", retryAfter: retryAfter);
            else connection.Faults.DroppedNotification(path.ToString(), "rate limit exceeded");
            return default;
        }
        if (procedure is not null)
        {
            // [Authorize]: checked before the input is read. Procedures without it pay this one null check.
            if (procedure.Access is { } access) return AuthorizationGate.Dispatch(connection, procedure, access, ref envelope, id);
            procedure.Dispatch(connection, ref envelope, id);
            return default;
        }
        if (path.Length > 0 && path[0] == '$')
        {
            DispatchBuiltIn(connection, in envelope, id, path);
            return default;
        }
        ProcedureMetrics.Unknown.Count(ErrorCode.NotFound);
        if (envelope.HasId) connection.Replies.SendError(id, ErrorCode.NotFound, $"no procedure named '{path}'");
        else connection.Faults.DroppedNotification(path.ToString(), "no such procedure");
        return default;
    }

    private ProcedureStats StatsFor(Procedure? procedure, ReadOnlySpan<char> path) =>
        procedure?.Stats ?? (path.SequenceEqual("$ping") ? _pingStats : path.SequenceEqual("$describe") ? _describeStats : ProcedureMetrics.Unknown);

    private void DispatchBuiltIn(RpcConnection connection, in Envelope envelope, in RequestId id, ReadOnlySpan<char> path)
    {
        if (!envelope.HasId) return; // built-ins only answer; as notifications they do nothing
        if (path.SequenceEqual("$ping"))
        {
            _pingStats.CountOk();
            SendRaw(connection, id, Answers(connection.Codec).Pong);
        }
        else if (path.SequenceEqual("$describe"))
        {
            _describeStats.CountOk();
            SendDescribe(connection, id);
        }
        else
        {
            ProcedureMetrics.Unknown.Count(ErrorCode.NotFound);
            connection.Replies.SendError(id, ErrorCode.NotFound, $"no built-in procedure named '{path}'");
        }
    }

    /// <summary>Binds the [Authorize] rules (policies resolved by name) and the filter pipeline to the procedures.</summary>
    private static void BindExtensions(IEnumerable<Procedure> procedures, RpcExtensions extensions, ILogger logger)
    {
        var policies = new Dictionary<string, IRpcAuthorizationPolicy>(StringComparer.Ordinal);
        foreach (var policy in extensions.Policies)
        {
            if (string.IsNullOrWhiteSpace(policy.Name))
                throw new Plugins.PluginLoadException($"authorization policy {policy.GetType().FullName} has no Name.");
            if (!policies.TryAdd(policy.Name, policy))
                throw new Plugins.PluginLoadException($"authorization policy name '{policy.Name}' is registered twice: by {policies[policy.Name].GetType().FullName} and by {policy.GetType().FullName}.");
        }
        var pipeline = extensions.Filters.Count > 0 ? new RpcFilterPipeline(extensions.Filters) : null;
        int guarded = 0;
        foreach (var p in procedures)
        {
            if (p.Descriptor.Authorization is { } rules)
            {
                p.Access = new ProcedureAccess(p.Descriptor, rules, policies);
                guarded++;
            }
            p.Filters = pipeline;
        }
        if (guarded > 0 || policies.Count > 0)
            AuthzLog.AuthorizationSummary(logger, guarded, procedures.Count(), policies.Count == 0 ? "none" : string.Join(", ", policies.Keys.Order(StringComparer.Ordinal)));
        if (pipeline is not null) AuthzLog.Filters(logger, string.Join(", ", extensions.Filters.Select(f => f.GetType().FullName)));
        if (extensions.ConnectionHandlers.Count > 0) AuthzLog.Handlers(logger, string.Join(", ", extensions.ConnectionHandlers.Select(h => h.GetType().FullName)));
    }

    private static IWireCodec CodecFor(string? subprotocol)
    {
        foreach (var codec in Codecs)
        {
            if (codec.Subprotocol == subprotocol) return codec;
        }
        return Codecs[0];
    }

    // The close reason (at most 123 bytes in a close frame).
    private static string WrongFrameMessage(IWireCodec codec) => codec.FrameOpcode == Opcode.Text
        ? codec.Subprotocol + " messages are text frames"
        : codec.Subprotocol + " messages are binary frames";

    // The built-ins' fixed answers, encoded once per wire format at startup. Describe lists everything; DescribeAnonymous
    // what a connection without identity may call (the same bytes when no procedure is guarded).
    private readonly record struct BuiltInAnswers(byte[] Pong, byte[] Describe, byte[] DescribeAnonymous);

    private static void SendRaw(RpcConnection connection, in RequestId id, byte[] encoded) => connection.Replies.SendEncodedResult(id, encoded);

    /// <summary>
    /// $describe: every procedure, or with Gateway:Auth:DescribeVisibleOnly those whose [Authorize] identity and role checks
    /// the caller passes (policies are not asked). The two common answers (everything, the anonymous view) are encoded once;
    /// another caller's view is encoded per call.
    /// </summary>
    private void SendDescribe(RpcConnection connection, in RequestId id)
    {
        var answers = Answers(connection.Codec);
        if (!_describeVisibleOnly)
        {
            SendRaw(connection, id, answers.Describe);
            return;
        }
        var user = connection.User;
        if (user.Identity is not { IsAuthenticated: true })
        {
            SendRaw(connection, id, answers.DescribeAnonymous);
            return;
        }
        bool all = true;
        foreach (var p in _procedures.Values)
        {
            if (p.Access is { } access && !access.IsVisibleTo(user)) { all = false; break; }
        }
        if (all)
        {
            SendRaw(connection, id, answers.Describe);
            return;
        }
        var web = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        SendRaw(connection, id, connection.Codec.Encode(_described.Document(_topicPatterns, p => p.Access is not { } access || access.IsVisibleTo(user)), web));
    }

    private BuiltInAnswers[] BuildAnswers()
    {
        var web = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        var anonymous = _described.Document(_topicPatterns, p => p.Access is null);
        return Array.ConvertAll(Codecs, c => new BuiltInAnswers(c.Encode("pong", web), c.Encode(Description, web), c.Encode(anonymous, web)));
    }

    private BuiltInAnswers Answers(IWireCodec codec) => _answers[Array.IndexOf(Codecs, codec)];
}
