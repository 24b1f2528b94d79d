namespace Gateway.Protocol.WebSockets;

/// <summary>
/// The reassembly bytes held by a set of <see cref="MessageReader"/>s (every connection of a server), kept so that a
/// server can cap the memory that incomplete messages pin across all its connections. Readers add when their buffer
/// grows and subtract when they give it back; the policy (what to do over a cap) belongs to the caller.
/// </summary>
public sealed class ReassemblyBudget
{
    private long _heldBytes;

    /// <summary>Reassembly bytes held right now by the readers sharing this budget.</summary>
    public long HeldBytes => Volatile.Read(ref _heldBytes);

    internal void Add(long delta)
    {
        if (delta != 0) Interlocked.Add(ref _heldBytes, delta);
    }
}
