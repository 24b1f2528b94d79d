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

    internal RpcApplication(IEnumerable<Procedure> procedures, JsonSerializerOptions json, int maxInflight, int maxBadMessages, ILogger logger,
        Options.RateLimitsOptions? rateLimits = null, TimeSpan requestTimeout = default, GatewayMetrics? metrics = null,
        PushHub? hub = null, Options.TopicsOptions? topics = null, IEnumerable<ITopicPolicy>? topicPolicies = null)
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
        _procedures = procedures.ToFrozenDictionary(p => p.Name, StringComparer.Ordinal);
        _lookup = _procedures.GetAlternateLookup<ReadOnlySpan<char>>();
        Json = json;
        MaxInflight = maxInflight;
        MaxBadMessages = maxBadMessages;
        Logger = logger;
        Description = DescribeDocument.Build(_procedures.Values, json, topics?.ClientSubscribe);
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
        return default;
    }

    public async ValueTask DrainAsync(WebSocketSession session, CancellationToken cancellationToken)
    {
        var connection = (RpcConnection)session.State!;
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
        Push.Disconnect(connection.Push);
        return default;
    }

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
            if (session.Closed.IsCancellationRequested) return default;
        }
        Dispatch(connection, ref envelope, path.Slice(0, envelope.PathLength));
        return default;
    }

    private async ValueTask DispatchWhenSlotFreeAsync(RpcConnection connection, ReadOnlySequence<byte> payload)
    {
        // The session does not consume the message until this completes, so the bytes stay valid.
        // A client that does not read its replies gets no more work done for it (and its socket is not read).
        await connection.Session.WaitForSendRoomAsync().ConfigureAwait(false);
        while (connection.Calls.InflightCount >= MaxInflight && !connection.Session.Closed.IsCancellationRequested)
            await connection.Calls.WaitForSlotAsync().ConfigureAwait(false);
        // The client went away while this message waited: nobody is left to answer, so no handler is started for it.
        if (connection.Session.Closed.IsCancellationRequested) return;
        var path = ArrayPool<char>.Shared.Rent(JsonEnvelope.MaxPathLength);
        try
        {
            connection.Codec.ReadEnvelope(payload, path, out var envelope, Json.MaxDepth);
            Dispatch(connection, ref envelope, path.AsSpan(0, envelope.PathLength));
        }
        finally
        {
            ArrayPool<char>.Shared.Return(path);
        }
    }

    private void Dispatch(RpcConnection connection, ref Envelope envelope, ReadOnlySpan<char> path)
    {
        var id = envelope.HasId ? new RequestId(envelope.Id) : RequestId.None;
        switch (envelope.Kind)
        {
            case EnvelopeKind.Invalid:
                connection.Replies.SendError(id, ErrorCode.InvalidArgument, envelope.Problem!);
                connection.Faults.BadMessage(envelope.Problem!);
                return;
            case EnvelopeKind.Cancel:
                connection.Faults.GoodMessage();
                connection.Cancel(envelope.Id);
                return;
            case EnvelopeKind.Result:
            case EnvelopeKind.Error:
                // The client answers a call the server made (IConnections.CallAsync).
                connection.Faults.GoodMessage();
                connection.CompleteServerCall(ref envelope);
                return;
            case EnvelopeKind.Progress:
                // Progress on a server call: allowed by the protocol, nothing waits for it.
                connection.Faults.GoodMessage();
                return;
        }
        connection.Faults.GoodMessage();
        if (connection.Calls.Draining)
        {
            if (envelope.HasId) connection.Replies.SendError(id, ErrorCode.Unavailable, "server is shutting down; retry on another instance");
            return;
        }
        _lookup.TryGetValue(path, out var procedure);
        if (!connection.TryAdmit(procedure, out var retryAfter))
        {
            if (envelope.HasId) connection.Replies.SendError(id, ErrorCode.ResourceExhausted, "rate limit exceeded", retryAfter: retryAfter);
            else connection.Faults.DroppedNotification(path.ToString(), "rate limit exceeded");
            return;
        }
        if (procedure is not null)
        {
            procedure.Dispatch(connection, ref envelope, id);
            return;
        }
        if (path.Length > 0 && path[0] == '$')
        {
            DispatchBuiltIn(connection, in envelope, id, path);
            return;
        }
        if (envelope.HasId) connection.Replies.SendError(id, ErrorCode.NotFound, $"no procedure named '{path}'");
        else connection.Faults.DroppedNotification(path.ToString(), "no such procedure");
    }

    private void DispatchBuiltIn(RpcConnection connection, in Envelope envelope, in RequestId id, ReadOnlySpan<char> path)
    {
        if (!envelope.HasId) return; // built-ins only answer; as notifications they do nothing
        if (path.SequenceEqual("$ping"))
        {
            SendRaw(connection, id, Answers(connection.Codec).Pong);
        }
        else if (path.SequenceEqual("$describe"))
        {
            SendRaw(connection, id, Answers(connection.Codec).Describe);
        }
        else
        {
            connection.Replies.SendError(id, ErrorCode.NotFound, $"no built-in procedure named '{path}'");
        }
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

    // The built-ins' fixed answers, encoded once per wire format at startup.
    private readonly record struct BuiltInAnswers(byte[] Pong, byte[] Describe);

    private static void SendRaw(RpcConnection connection, in RequestId id, byte[] encoded) => connection.Replies.SendEncodedResult(id, encoded);

    private BuiltInAnswers[] BuildAnswers()
    {
        var web = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        return Array.ConvertAll(Codecs, c => new BuiltInAnswers(c.Encode("pong", web), c.Encode(Description, web)));
    }

    private BuiltInAnswers Answers(IWireCodec codec) => _answers[Array.IndexOf(Codecs, codec)];
}
