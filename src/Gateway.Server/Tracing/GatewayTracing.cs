using System.Diagnostics;
using Gateway.Server.Rpc;

namespace Gateway.Server;

/// <summary>
/// The "Gateway" <see cref="ActivitySource"/>: a span per call (named after the procedure), per call from the server to a
/// client and per publish. Tags name the procedure, the kind, the result code and the connection; never payloads or
/// tokens. Nothing is done unless something listens (<see cref="ActivitySource.HasListeners"/> is checked first): the
/// dispatch path then pays one volatile read and a null check per call, no allocation.
/// </summary>
internal static class GatewayTracing
{
    public const string SourceName = "Gateway";
    public static readonly ActivitySource Source = new(SourceName, typeof(GatewayTracing).Assembly.GetName().Version?.ToString());

    public const string RpcSystemTag = "rpc.system";
    public const string RpcSystem = "gateway";
    public const string MethodTag = "rpc.method";
    public const string KindTag = "gateway.rpc.kind";
    public const string CodeTag = "gateway.rpc.code";
    public const string ConnectionTag = "gateway.connection.id";
    public const string TopicTag = "messaging.destination.name";
    public const string EventTag = "gateway.event";

    /// <summary>
    /// Starts the span of a call that is about to run its handler, parented on the client's <c>meta.traceparent</c> when
    /// valid. Leaves <see cref="Activity.Current"/> as it was: the handler runs under the span only inside <see cref="Enter"/>.
    /// </summary>
    public static Activity? StartCall(RpcConnection connection, Procedure procedure, bool hasId, in Protocol.Rpc.Envelope envelope)
    {
        if (!Source.HasListeners()) return null;
        ActivityContext parent = default;
        if (envelope.HasMeta) connection.Codec.TryReadTraceContext(envelope.Meta, out parent);
        var previous = Activity.Current;
        var activity = Source.StartActivity(procedure.Name, ActivityKind.Server, parent);
        if (activity is null) return null;
        Activity.Current = previous;
        if (activity.IsAllDataRequested)
        {
            activity.SetTag(RpcSystemTag, RpcSystem);
            activity.SetTag(MethodTag, procedure.Name);
            activity.SetTag(KindTag, procedure.Kind == ProcedureKind.Subscription ? "subscription" : hasId ? "request" : "notification");
            activity.SetTag(ConnectionTag, connection.ConnectionId);
        }
        return activity;
    }

    /// <summary>Ends a call's span with its result code (the cell <see cref="ProcedureStats"/> counted it under).</summary>
    public static void EndCall(Activity activity, int codeCell)
    {
        string code = ProcedureStats.CodeLabel(codeCell);
        if (activity.IsAllDataRequested) activity.SetTag(CodeTag, code);
        activity.SetStatus(codeCell == 0 ? ActivityStatusCode.Ok : ActivityStatusCode.Error, codeCell == 0 ? null : code);
        // Stop touches Activity.Current only where the span is current (inside the handler's own flow): the read loop,
        // which ends synchronous calls, never has it current.
        activity.Stop();
    }

    /// <summary>The span of a call from the server to a client (<c>IConnections.CallAsync</c>), named after the client's procedure.</summary>
    public static Activity? StartServerCall(string connectionId, string path)
    {
        var activity = Source.StartActivity(path, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(RpcSystemTag, RpcSystem);
            activity.SetTag(MethodTag, path);
            activity.SetTag(KindTag, "server-call");
            activity.SetTag(ConnectionTag, connectionId);
        }
        return activity;
    }

    /// <summary>The span of a publish to a topic (name "publish": topics are unbounded, so they are a tag, not the name).</summary>
    public static Activity? StartPublish(string topic, string eventName)
    {
        var activity = Source.StartActivity("publish", ActivityKind.Producer);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(RpcSystemTag, RpcSystem);
            activity.SetTag(KindTag, "publish");
            activity.SetTag(TopicTag, topic);
            activity.SetTag(EventTag, eventName);
        }
        return activity;
    }

    /// <summary>Ends a span's outcome: OK, or the error code of an <see cref="RpcException"/> (INTERNAL for anything else).</summary>
    public static void SetOutcome(Activity activity, Exception? error)
    {
        string code = error is null ? "OK"
            : error is RpcException rpc ? rpc.Code.WireName()
            : error is OperationCanceledException ? ErrorCode.Cancelled.WireName()
            : ErrorCode.Internal.WireName();
        if (activity.IsAllDataRequested) activity.SetTag(CodeTag, code);
        activity.SetStatus(error is null ? ActivityStatusCode.Ok : ActivityStatusCode.Error, error is null ? null : code);
    }

    /// <summary>Makes <paramref name="activity"/> current until the scope is disposed (no-op for null: no listener).</summary>
    public static Scope Enter(Activity? activity) => new(activity);

    public readonly struct Scope : IDisposable
    {
        private readonly Activity? _activity;
        private readonly Activity? _previous;

        public Scope(Activity? activity)
        {
            _activity = activity;
            if (activity is null) return;
            _previous = Activity.Current;
            Activity.Current = activity;
        }

        public void Dispose()
        {
            if (_activity is not null) Activity.Current = _previous;
        }
    }
}
