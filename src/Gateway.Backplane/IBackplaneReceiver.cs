namespace Gateway.Backplane;

/// <summary>Where a backplane delivers what other nodes sent. Callbacks must not block: they run on the backplane's receive path.</summary>
public interface IBackplaneReceiver
{
    /// <summary>A topic message from another node. The receiver may keep the memory: the backplane does not reuse it.</summary>
    void OnTopicMessage(string topic, ReadOnlyMemory<byte> message);

    /// <summary>A broadcast from another node.</summary>
    void OnBroadcast(ReadOnlyMemory<byte> message);

    /// <summary>A message sent to this node's own channel.</summary>
    void OnNodeMessage(ReadOnlyMemory<byte> message);
}
