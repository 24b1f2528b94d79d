using Gateway.Protocol.WebSockets;

namespace Gateway.Server.Push;

/// <summary>
/// What other nodes send this one through the backplane: events for its topics, users, connections or everyone
/// (already serialized: delivered as they are), and the node-to-node requests of server calls and remote subscribes.
/// </summary>
internal sealed class ClusterInbox(LocalDirectory directory, FanOut fanOut, ServerCallRouter calls, ClusterLink link)
{
    public void OnTopicMessage(string topic, ReadOnlyMemory<byte> message)
    {
        if (!directory.Topics.Contains(topic)) return;
        link.Metrics.BackplaneReceived();
        var frame = SharedFrame.Create(Opcode.Text, message.Span);
        try { fanOut.ToTopic(topic, frame); }
        finally { frame.Release(); }
    }

    public void OnBroadcast(ReadOnlyMemory<byte> message)
    {
        link.Metrics.BackplaneReceived();
        var frame = SharedFrame.Create(Opcode.Text, message.Span);
        try { fanOut.ToAll(frame); }
        finally { frame.Release(); }
    }

    public void OnNodeMessage(ReadOnlyMemory<byte> data)
    {
        link.Metrics.BackplaneReceived();
        if (!ClusterMessage.TryParse(data, out var m))
        {
            PushLog.BadClusterMessage(link.Log, data.Length);
            return;
        }
        switch (m.Type)
        {
            case ClusterMessageType.ConnectionEvent:
                if (directory.TryGet(m.LocalId, out var target))
                {
                    var frame = SharedFrame.Create(Opcode.Text, m.Body.Span);
                    try { fanOut.ToConnection(target, frame); }
                    finally { frame.Release(); }
                }
                break;
            case ClusterMessageType.UserEvent:
                if (directory.Users.Contains(m.Text!))
                {
                    var frame = SharedFrame.Create(Opcode.Text, m.Body.Span);
                    try { fanOut.ToUser(m.Text!, frame); }
                    finally { frame.Release(); }
                }
                break;
            case ClusterMessageType.Call:
                calls.StartForwarded(in m);
                break;
            case ClusterMessageType.Reply:
                calls.OnReply(m.Correlation, m.IsError, m.Body);
                break;
            case ClusterMessageType.CancelCall:
                calls.CancelForwarded(m.Node!, m.Correlation);
                break;
            case ClusterMessageType.Subscribe:
            case ClusterMessageType.Unsubscribe:
                _ = calls.HandleRemoteTopicRequestAsync(m.Type, m.Node!, m.Correlation, m.LocalId, m.Text!);
                break;
        }
    }
}
