using Gateway.Server.Codec;

namespace Gateway.Server.Rpc.Limits;

/// <summary>
/// Per-call deadlines (a procedure's TimeoutMs, else Gateway:Timeouts:Request), enforced on the connection's heartbeat
/// tick: a call past its deadline is answered DEADLINE_EXCEEDED and its token fires.
/// </summary>
internal sealed class DeadlineSweep(CallRegistry calls, ReplySender replies, GatewayMetrics? metrics)
{
    // The claim (TryFinish) and the id are taken under the registry's lock, where a call cannot end and be reused from
    // the pool; the replies are written after it is released.
    public void Tick(long now)
    {
        if (!calls.AnyDeadline) return;
        List<(RequestId Id, bool Answer)>? expired = null;
        lock (calls.Gate)
        {
            // Null until a call ran asynchronously (a call closed out before it was tracked still counts a deadline).
            if (calls.RunningUnderGate is not { } running) return;
            foreach (var call in running)
            {
                if (call.Deadline == 0 || now < call.Deadline) continue;
                call.Deadline = 0;
                bool claimed = call.TryFinish();
                if (claimed)
                {
                    metrics?.DeadlineExceeded();
                    call.SetOutcome(ErrorCode.DeadlineExceeded);
                }
                // A notification is never answered, not even with an error.
                (expired ??= new()).Add((call.Id, claimed && call.HasId));
                call.Abort();
            }
        }
        if (expired is null) return;
        foreach (var (id, answer) in expired)
        {
            if (answer) replies.SendError(id, ErrorCode.DeadlineExceeded, "the call did not finish within its deadline");
        }
    }
}
