using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Protocol.Rpc;
using Gateway.Server.Codec;

namespace Gateway.Server.Rpc;

/// <summary>
/// Reads a call's input from its raw slice of the message, on the read loop; an input that is missing or does not fit
/// is answered INVALID_ARGUMENT in the client's terms (never a .NET type name), or dropped for a notification.
/// </summary>
internal static class InputReader
{
    public static bool TryRead<TIn>(RpcConnection connection, Procedure procedure, ref Envelope envelope, JsonTypeInfo<TIn>? info, in RequestId id, out TIn value)
    {
        value = default!;
        if (info is null) return true;
        var codec = connection.Codec;
        if (!envelope.HasInput || codec.IsNull(envelope.Input))
        {
            if (!procedure.Descriptor.InputRequired) return true;
            Reject(connection, procedure, envelope.HasId, id, $"input is required: '{procedure.Name}' expects {procedure.Descriptor.InputShape}");
            return false;
        }
        int maxDepth = connection.Json.MaxDepth == 0 ? 64 : connection.Json.MaxDepth;
        try
        {
            value = codec.ReadValue(envelope.Input, info, maxDepth);
            return true;
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException or FormatException or OverflowException)
        {
            // The serializer's own text names .NET types (System.Nullable`1[System.Int64]): say it in JSON terms instead.
            Reject(connection, procedure, envelope.HasId, id, JsonShape.InvalidInput(procedure.Name, procedure.Descriptor.InputShape, info, ex, maxDepth));
            return false;
        }
    }

    private static void Reject(RpcConnection connection, Procedure procedure, bool hasId, in RequestId id, string message)
    {
        procedure.Stats.Count(ErrorCode.InvalidArgument);
        if (hasId) connection.Replies.SendError(id, ErrorCode.InvalidArgument, message);
        else connection.Faults.DroppedNotification(procedure.Name, message);
    }
}
