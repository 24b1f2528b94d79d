using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Gateway.Server.Push;

/// <summary>
/// Calls from the server to clients (<see cref="IConnections.CallAsync{TResult}"/>) and the requests between nodes
/// that go with them: a call to a connection on another node, that node's answer, a cancel, a remote subscribe.
/// </summary>
internal sealed class ServerCallRouter(LocalDirectory directory, ClusterLink link, JsonSerializerOptions json)
{
    /// <summary>How long a node waits for another node's answer to a remote subscribe or unsubscribe.</summary>
    internal static readonly TimeSpan RemoteRequestTimeout = TimeSpan.FromSeconds(10);

    // Requests this node sent to other nodes (calls, remote subscribes), by correlation id.
    private readonly ConcurrentDictionary<long, ServerCall> _outgoing = new();
    // Calls other nodes asked this node to make, for their cancel.
    private readonly ConcurrentDictionary<(string Node, long Correlation), ForwardedServerCall> _forwarded = new();
    private long _nextCorrelation;

    private GatewayMetrics Metrics => link.Metrics;

    public Task<TResult> CallAsync<TResult>(string connectionId, string path, object? input, TimeSpan timeout, CancellationToken cancellationToken) =>
        GatewayTracing.Source.HasListeners()
            ? TracedCallAsync<TResult>(connectionId, path, input, timeout, cancellationToken)
            : CallCoreAsync<TResult>(connectionId, path, input, timeout, cancellationToken);

    // Only when something listens: the span covers the whole call, its code the outcome the caller sees.
    private async Task<TResult> TracedCallAsync<TResult>(string connectionId, string path, object? input, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var activity = GatewayTracing.StartServerCall(connectionId, path);
        try
        {
            var result = await CallCoreAsync<TResult>(connectionId, path, input, timeout, cancellationToken).ConfigureAwait(false);
            if (activity is not null) GatewayTracing.SetOutcome(activity, null);
            return result;
        }
        catch (Exception ex)
        {
            if (activity is not null) GatewayTracing.SetOutcome(activity, ex);
            throw;
        }
    }

    private async Task<TResult> CallCoreAsync<TResult>(string connectionId, string path, object? input, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(path) || path.Length > Protocol.Rpc.JsonEnvelope.MaxPathLength)
            throw new ArgumentException("a path is 1 to 256 characters", nameof(path));
        if (timeout <= TimeSpan.Zero || timeout > TimeSpan.FromHours(1))
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "a call's timeout is between 1 ms and 1 hour");
        cancellationToken.ThrowIfCancellationRequested();
        link.EnsureStarted();
        if (!NodeIds.TryParseConnectionId(connectionId, out var node, out long local))
            throw new RpcException(ErrorCode.NotFound, $"no connection '{connectionId}'");
        var call = new TypedServerCall<TResult>((JsonTypeInfo<TResult>)json.GetTypeInfo(typeof(TResult)), $"client call {path}");
        byte[]? inputJson = input is null ? null : JsonSerializer.SerializeToUtf8Bytes(input, input.GetType(), json);

        PushState? target = null;
        long correlation = 0;
        if (node == link.NodeId)
        {
            if (!directory.TryGet(local, out target))
                throw new RpcException(ErrorCode.NotFound, $"no connection '{connectionId}' on this node");
            target.ServerCalls.Start(call, path, inputJson);
            Metrics.ServerCallStarted();
        }
        else
        {
            correlation = Interlocked.Increment(ref _nextCorrelation);
            _outgoing[correlation] = call;
            var message = new ClusterMessageWriter(ClusterMessageType.Call, inputJson?.Length ?? 0)
                .Int64(correlation).String(link.NodeId).Int64(local).Int64((long)Math.Ceiling(timeout.TotalMilliseconds)).String(path)
                .Bytes(inputJson);
            bool sent;
            try { sent = await link.SendToNodeAsync(node, message.Written, "call to " + connectionId, cancellationToken).ConfigureAwait(false); }
            catch
            {
                _outgoing.TryRemove(correlation, out _);
                throw;
            }
            if (!sent)
            {
                _outgoing.TryRemove(correlation, out _);
                throw new RpcException(ErrorCode.NotFound, $"no connection '{connectionId}': its node is gone");
            }
            Metrics.ServerCallStarted();
        }

        using var deadline = new CancellationTokenSource(timeout);
        using var onDeadline = deadline.Token.UnsafeRegister(static s => ((Action)s!)(), (Action)(() =>
        {
            if (call.IsDone) return;
            Metrics.ServerCallTimedOut();
            Abandon(call, target, node, correlation);
            call.OnFailed(ErrorCode.DeadlineExceeded, $"the client did not answer {path} within {timeout.TotalMilliseconds:0} ms");
        }));
        using var onCancel = cancellationToken.UnsafeRegister(static s => ((Action)s!)(), (Action)(() =>
        {
            if (call.IsDone) return;
            Abandon(call, target, node, correlation);
            call.OnCancelled(cancellationToken);
        }));
        try
        {
            var result = await call.Task.ConfigureAwait(false);
            Metrics.ServerCallCompleted();
            return result;
        }
        catch (RpcException)
        {
            Metrics.ServerCallFailed();
            throw;
        }
    }

    /// <summary>The caller gives up: the client (or the node holding it) is told to cancel.</summary>
    private void Abandon(ServerCall call, PushState? target, string node, long correlation)
    {
        if (target is not null)
        {
            target.ServerCalls.Cancel(call);
            return;
        }
        if (_outgoing.TryRemove(correlation, out _))
        {
            var message = new ClusterMessageWriter(ClusterMessageType.CancelCall).Int64(correlation).String(link.NodeId);
            _ = link.SendQuietlyAsync(node, message.Written);
        }
    }

    /// <summary>The node is stopping: nothing will answer the requests it sent.</summary>
    public void FailOutgoing()
    {
        foreach (var call in _outgoing.Values) call.OnFailed(ErrorCode.Unavailable, "this gateway node is stopping");
        _outgoing.Clear();
    }

    /// <summary>Another node answered a request of ours.</summary>
    public void OnReply(long correlation, bool isError, ReadOnlyMemory<byte> body)
    {
        if (!_outgoing.TryRemove(correlation, out var pending)) return;
        var json = new ReadOnlySequence<byte>(body);
        if (isError) pending.OnError(json); else pending.OnResult(json);
    }

    /// <summary>Sends a forwarded call's answer back to the node that asked for it.</summary>
    internal void SendReply(ForwardedServerCall call, bool isError, in ReadOnlySequence<byte> json)
    {
        _forwarded.TryRemove((call.OriginNode, call.Correlation), out _);
        call.Timeout?.Dispose();
        var message = new ClusterMessageWriter(ClusterMessageType.Reply, (int)json.Length).Int64(call.Correlation).Byte(isError ? (byte)1 : (byte)0);
        foreach (var segment in json) message.Bytes(segment.Span);
        _ = link.SendQuietlyAsync(call.OriginNode, message.Written);
    }

    /// <summary>Another node asks this one to call one of its connections.</summary>
    public void StartForwarded(in ClusterMessage m)
    {
        var call = new ForwardedServerCall(this, m.Node!, m.Correlation);
        if (!directory.TryGet(m.LocalId, out var target))
        {
            call.OnFailed(ErrorCode.NotFound, $"no connection '{link.NodeId}.{m.LocalId}'");
            return;
        }
        call.Target = target;
        _forwarded[(call.OriginNode, call.Correlation)] = call;
        try
        {
            target.ServerCalls.Start(call, m.Text!, m.Body.IsEmpty ? null : m.Body.ToArray());
        }
        catch (RpcException ex)
        {
            call.OnFailed(ex.Code, ex.Message);
            return;
        }
        // This node enforces the deadline too, so a caller that died never leaves the call pending here.
        var timeout = new CancellationTokenSource(m.TimeoutMs);
        call.Timeout = timeout;
        timeout.Token.UnsafeRegister(static s =>
        {
            var c = (ForwardedServerCall)s!;
            if (c.Target!.ServerCalls.Cancel(c)) c.OnFailed(ErrorCode.DeadlineExceeded, "the client did not answer in time");
        }, call);
    }

    /// <summary>The node that asked for a forwarded call cancelled it or gave up.</summary>
    public void CancelForwarded(string origin, long correlation)
    {
        if (_forwarded.TryRemove((origin, correlation), out var forwarded) && forwarded.Abandon())
        {
            forwarded.Timeout?.Dispose();
            forwarded.Target?.ServerCalls.Cancel(forwarded);
        }
    }

    /// <summary>Subscribes or unsubscribes a connection of another node, answered once that node has done it.</summary>
    public async ValueTask<bool> RemoteTopicRequestAsync(ClusterMessageType type, string node, long local, string topic, CancellationToken cancellationToken)
    {
        link.EnsureStarted();
        var call = new TypedServerCall<bool>((JsonTypeInfo<bool>)json.GetTypeInfo(typeof(bool)), "a remote subscribe");
        long correlation = Interlocked.Increment(ref _nextCorrelation);
        _outgoing[correlation] = call;
        try
        {
            var message = new ClusterMessageWriter(type).Int64(correlation).String(link.NodeId).Int64(local).String(topic);
            if (!await link.SendToNodeAsync(node, message.Written, (type == ClusterMessageType.Subscribe ? "subscribe on " : "unsubscribe on ") + node, cancellationToken).ConfigureAwait(false))
                return false;
            return await call.Task.WaitAsync(RemoteRequestTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new RpcException(ErrorCode.Unavailable, $"node {node} did not answer within {RemoteRequestTimeout.TotalSeconds:0} s");
        }
        finally
        {
            _outgoing.TryRemove(correlation, out _);
        }
    }

    /// <summary>Does what another node's <see cref="RemoteTopicRequestAsync"/> asked and answers it.</summary>
    public async Task HandleRemoteTopicRequestAsync(ClusterMessageType type, string origin, long correlation, long local, string topic)
    {
        var reply = new ForwardedServerCall(this, origin, correlation);
        try
        {
            bool done = false;
            if (directory.TryGet(local, out var state))
            {
                done = type == ClusterMessageType.Subscribe
                    ? await directory.SubscribeAsync(state, topic, CancellationToken.None).ConfigureAwait(false)
                    : await directory.UnsubscribeAsync(state, topic, CancellationToken.None).ConfigureAwait(false);
            }
            reply.OnResult(new ReadOnlySequence<byte>(done ? "true"u8.ToArray() : "false"u8.ToArray()));
        }
        catch (RpcException ex)
        {
            if (reply.Abandon()) SendReply(reply, isError: true, new ReadOnlySequence<byte>(Codec.ErrorObjects.ToBytes(ex, json)));
        }
        catch (Exception ex)
        {
            PushLog.BackplaneFailed(link.Log, "remote topic request", ex.Message);
            reply.OnFailed(ErrorCode.Internal, "internal error");
        }
    }
}
