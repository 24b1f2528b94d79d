using Gateway.Protocol.WebSockets;
using Gateway.Server.WebSockets;

namespace Gateway.Server.Push;

/// <summary>
/// Local delivery of one serialized event frame: to a topic's or a user's members, to one connection, or to all.
/// Members are found through their interest's snapshot, never by scanning connections; each queueing goes through
/// the session's slow-consumer policy, so a slow one is dropped or closed and never slows the others.
/// </summary>
internal sealed class FanOut(LocalDirectory directory, GatewayMetrics metrics)
{
    public int ToTopic(string topic, SharedFrame frame) =>
        directory.Topics.TryGet(topic, out var interest) ? ToMembers(interest, frame) : 0;

    public int ToUser(string userId, SharedFrame frame) =>
        directory.Users.TryGet(userId, out var interest) ? ToMembers(interest, frame) : 0;

    public bool ToConnection(PushState state, SharedFrame frame)
    {
        bool queued = state.Session.SendDroppable(frame.Share());
        if (queued) metrics.EventsDelivered(1);
        return queued;
    }

    public void ToAll(SharedFrame frame)
    {
        int delivered = 0;
        foreach (var (_, state) in directory.Connections)
        {
            if (state.Session.SendDroppable(frame.Share())) delivered++;
        }
        metrics.EventsDelivered(delivered);
    }

    /// <summary>
    /// The fan-out loop: the same frame to every session, each under its own slow-consumer policy. References and
    /// counters are taken once for the whole loop; per subscriber it touches only the session and its outbox.
    /// </summary>
    private int ToMembers(Interest interest, SharedFrame frame)
    {
        WebSocketSession[] sessions = interest.Snapshot();
        if (sessions.Length == 0) return 0;
        frame.Reserve(sessions.Length);
        int delivered = 0;
        foreach (var session in sessions)
        {
            if (session.SendDroppable(frame.ShareReserved(), countSent: false)) delivered++;
        }
        metrics.MessagesSent(delivered, frame.Length);
        metrics.EventsDelivered(delivered);
        return delivered;
    }
}
