using Gateway.Protocol.WebSockets;

namespace Gateway.Server.WebSockets;

public sealed partial class WebSocketSession
{
    /// <summary>
    /// Bytes this session may still take before it is over Limits:SendBufferLimitBytes (zero or less: over it).
    /// A producer that builds several messages before queuing them (<see cref="Rpc.StreamBatch"/>) counts its own
    /// unqueued bytes against this, so an item is dropped or closes the connection exactly where it would one by one.
    /// </summary>
    internal long SendRoom => _sendLimit - UnsentBytes;

    /// <summary>
    /// Queues <paramref name="messages"/> complete frames built back to back in one pooled buffer (ownership passes to
    /// the session): one enqueue, one drain and one pair of counter updates for the whole run instead of one per message.
    /// The caller has checked <see cref="SendRoom"/>; the frames are never dropped. False when the session is closing.
    /// The outbox compresses per queued frame, so a caller must not batch on a compressed session.
    /// </summary>
    internal bool SendBatch(PooledFrame frames, int messages)
    {
        if (CloseSent)
        {
            frames.Return();
            return false;
        }
        _metrics.MessageBatchSent(messages, frames.Length);
        return Send(frames, countSent: false);
    }
}
