namespace Gateway.Server.WebSockets;

/// <summary>
/// Drains deferred to the end of the current read batch. While a read loop handles the messages of one read, frames it
/// queues on other connections (the events of a publish, fanned out to every subscriber) only mark those outboxes; the
/// drains are scheduled once the batch is done. A burst of publishes then reaches each subscriber's socket as one write
/// instead of one per event, and one work item per subscriber instead of one per event. The batch never outlives the
/// synchronous part of the read loop (it ends before every await), so nothing waits longer than one read's handling.
/// </summary>
internal static class DrainBatch
{
    [ThreadStatic] private static List<Outbox>? t_pending;
    [ThreadStatic] private static int t_depth;

    public static void Begin() => t_depth++;

    /// <summary>True when the drain is taken care of: deferred to this batch, or already claimed by someone who will run it.</summary>
    public static bool TryDefer(Outbox outbox)
    {
        if (t_depth == 0) return false;
        if (outbox.TryClaim()) (t_pending ??= new List<Outbox>(64)).Add(outbox);
        return true;
    }

    public static void End()
    {
        if (--t_depth > 0) return;
        var pending = t_pending;
        if (pending is null || pending.Count == 0) return;
        foreach (var outbox in pending) outbox.ScheduleClaimed();
        pending.Clear();
    }
}
