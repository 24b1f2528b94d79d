using Gateway.Backplane;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.Push;

/// <summary>
/// This node's side of the backplane: its id, whether it is in the cluster (started, not yet stopping), and sending to
/// other nodes with one way of counting, logging and reporting a failure (UNAVAILABLE to the caller).
/// </summary>
internal sealed class ClusterLink(IBackplane backplane, string nodeId, GatewayMetrics metrics, ILogger log)
{
    private volatile bool _started;
    private volatile bool _stopped;

    public IBackplane Backplane => backplane;
    public string NodeId => nodeId;
    public GatewayMetrics Metrics => metrics;
    public ILogger Log => log;
    /// <summary>Started and not stopping: backplane calls are made (else only the desired state is kept).</summary>
    public bool IsLive => _started && !_stopped;
    public bool IsStopped => _stopped;

    public async Task StartAsync(IBackplaneReceiver receiver, CancellationToken cancellationToken)
    {
        if (_started) return;
        await backplane.StartAsync(nodeId, receiver, cancellationToken).ConfigureAwait(false);
        _started = true;
        PushLog.Started(log, nodeId, backplane.Name);
    }

    /// <summary>Marks the node stopping; false when it was not started or is stopping already.</summary>
    public bool BeginStop()
    {
        if (!_started || _stopped) return false;
        _stopped = true;
        return true;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try { await backplane.StopAsync(cancellationToken).ConfigureAwait(false); }
        catch (Exception ex) when (ex is not OperationCanceledException) { PushLog.BackplaneFailed(log, "stop", ex.Message); }
    }

    public void EnsureStarted()
    {
        if (!_started || _stopped) throw new RpcException(ErrorCode.Unavailable, _stopped ? "this gateway node is stopping" : "the gateway has not started yet");
    }

    public async ValueTask<bool> SendToNodeAsync(string node, ReadOnlyMemory<byte> message, string what, CancellationToken cancellationToken)
    {
        try
        {
            bool sent = await backplane.SendToNodeAsync(node, message, cancellationToken).ConfigureAwait(false);
            metrics.BackplaneSent();
            return sent;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw Unavailable(what, ex);
        }
    }

    /// <summary>Sends with nobody waiting for the outcome (cancels, answers): a failure is only logged.</summary>
    public async Task SendQuietlyAsync(string node, ReadOnlyMemory<byte> message)
    {
        try { await backplane.SendToNodeAsync(node, message, CancellationToken.None).ConfigureAwait(false); }
        catch (Exception ex) { PushLog.BackplaneFailed(log, "send to node " + node, ex.Message); }
    }

    /// <summary>Completes a publish or broadcast that did not finish synchronously, reporting a failure as UNAVAILABLE.</summary>
    public async ValueTask AwaitAsync(ValueTask pending, string what)
    {
        try
        {
            await pending.ConfigureAwait(false);
            metrics.BackplaneSent();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw Unavailable(what, ex);
        }
    }

    public RpcException Unavailable(string what, Exception ex)
    {
        metrics.BackplaneError();
        PushLog.BackplaneFailed(log, what, ex.Message);
        return new RpcException(ErrorCode.Unavailable, $"the {backplane.Name} backplane is unavailable: this node's connections have the message, other nodes' may not");
    }
}
