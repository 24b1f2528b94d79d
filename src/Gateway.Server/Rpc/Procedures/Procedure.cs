using System.Runtime.CompilerServices;
using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.Rpc;

namespace Gateway.Server.Rpc;

/// <summary>
/// A bound procedure. <see cref="Dispatch"/> runs on the connection's read loop while the message bytes
/// are valid: it deserializes the input from its raw slice, starts the handler and, when the handler
/// completes synchronously, writes the reply right there (no Task, no copy of the id).
/// </summary>
internal abstract class Procedure(ProcedureDescriptor descriptor)
{
    public ProcedureDescriptor Descriptor { get; } = descriptor;
    public string Name => Descriptor.Name;
    public ProcedureKind Kind => Descriptor.Kind;
    /// <summary>Slot of this procedure's per-connection rate limit, or -1.</summary>
    public int RateLimitSlot { get; set; } = -1;
    /// <summary>Deadline of one call in milliseconds; 0 = none.</summary>
    public long DeadlineMs { get; set; }

    public abstract void Dispatch(RpcConnection connection, ref Envelope envelope, in Codec.RequestId id);
}
