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
    /// <summary>Its calls by result code and their durations (<c>gateway_rpc_calls_total</c>, <c>gateway_rpc_duration_seconds</c>).</summary>
    public ProcedureStats Stats { get; } = new(descriptor.Name);
    /// <summary>Its [Authorize] checks, run before the input is read; null (most procedures) = open, and no cost.</summary>
    public ProcedureAccess? Access { get; set; }
    /// <summary>The plugins' call filters around its handler; null when none is registered (the unfiltered path).</summary>
    public RpcFilterPipeline? Filters { get; set; }

    public abstract void Dispatch(RpcConnection connection, ref Envelope envelope, in Codec.RequestId id);
}
