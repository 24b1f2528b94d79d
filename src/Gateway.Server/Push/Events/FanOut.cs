using System.Text.Json;
using Gateway.Protocol.WebSockets;
using Gateway.Server.Codec;
using Gateway.Server.WebSockets;

namespace Gateway.Server.Push;

/// <summary>
/// Local delivery of one serialized event frame: to a topic's or a user's members, to one connection, or to all.
/// Members are found through their interest's snapshot, never by scanning connections; each queueing goes through
/// the session's slow-consumer policy, so a slow one is dropped or closed and never slows the others. The frame comes
/// in canonical JSON; members of another format get it converted once per format per event, and only when such a
/// member is there.
/// </summary>
internal sealed class FanOut(LocalDirectory directory, GatewayMetrics metrics)
{
    public int ToTopic(string topic, SharedFrame frame) =>
        directory.Topics.TryGet(topic, out var interest) ? ToMembers(interest, frame) : 0;

    public int ToUser(string userId, SharedFrame frame) =>
        directory.Users.TryGet(userId, out var interest) ? ToMembers(interest, frame) : 0;

    public bool ToConnection(PushState state, SharedFrame frame)
    {
        var converted = Convert(state.Codec, frame);
        if (converted is null) return false;
        try
        {
            bool queued = state.Session.SendDroppable(converted.Share());
            if (queued) metrics.EventsDelivered(1);
            return queued;
        }
        finally
        {
            if (!ReferenceEquals(converted, frame)) converted.Release();
        }
    }

    public void ToAll(SharedFrame frame)
    {
        int delivered = 0;
        // At most one conversion per other format, made when the first member of that format comes up.
        List<(IWireCodec Codec, SharedFrame? Frame)>? converted = null;
        try
        {
            foreach (var (_, state) in directory.Connections)
            {
                var own = frame;
                if (state.Codec is not JsonWireCodec)
                {
                    converted ??= [];
                    int i = converted.FindIndex(c => ReferenceEquals(c.Codec, state.Codec));
                    if (i < 0)
                    {
                        converted.Add((state.Codec, Convert(state.Codec, frame)));
                        i = converted.Count - 1;
                    }
                    own = converted[i].Frame;
                    if (own is null) continue;
                }
                if (state.Session.SendDroppable(own.Share())) delivered++;
            }
        }
        finally
        {
            if (converted is not null)
            {
                foreach (var (_, f) in converted)
                {
                    if (f is not null && !ReferenceEquals(f, frame)) f.Release();
                }
            }
        }
        metrics.EventsDelivered(delivered);
    }

    /// <summary>
    /// The fan-out loop: the same frame to every session of a format, each under its own slow-consumer policy. References
    /// and counters are taken once per format; per subscriber it touches only the session and its outbox. Formats go in a
    /// fixed order for every event, so each member sees the events in the order they were published.
    /// </summary>
    private int ToMembers(Interest interest, SharedFrame frame)
    {
        var audience = interest.Snapshot();
        int delivered = Deliver(audience.Canonical, frame);
        foreach (var group in audience.Others)
        {
            var converted = Convert(group.Codec, frame);
            if (converted is null) continue;
            try { delivered += Deliver(group.Sessions, converted); }
            finally { if (!ReferenceEquals(converted, frame)) converted.Release(); }
        }
        metrics.EventsDelivered(delivered);
        return delivered;
    }

    private int Deliver(WebSocketSession[] sessions, SharedFrame frame)
    {
        if (sessions.Length == 0) return 0;
        frame.Reserve(sessions.Length);
        int delivered = 0;
        foreach (var session in sessions)
        {
            if (session.SendDroppable(frame.ShareReserved(), countSent: false)) delivered++;
        }
        metrics.MessagesSent(delivered, frame.Length);
        return delivered;
    }

    // The canonical frame itself for JSON members; a converted one (owned by the caller) for another format; null when
    // the event cannot be converted (a malformed frame from another node): those members miss it, the rest get it.
    private static SharedFrame? Convert(IWireCodec codec, SharedFrame canonical)
    {
        try
        {
            return codec.FromCanonicalEvent(canonical.Payload.Span) ?? canonical;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
