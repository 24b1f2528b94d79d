using Gateway.Protocol.Rpc;
using Gateway.Server.Codec;
using Microsoft.Extensions.Logging;

namespace Gateway.Server.Rpc;

/// <summary>
/// Runs a guarded procedure's checks on the read loop before its input is read: identity and roles (synchronous, no
/// allocation), then its policies. A policy that answers later holds the read loop (the message bytes stay valid and
/// calls keep their order); then the call is dispatched as usual. Denials are answered, counted per procedure, and logged
/// under the client-fault budget.
/// </summary>
internal static class AuthorizationGate
{
    public static ValueTask Dispatch(RpcConnection connection, Procedure procedure, ProcedureAccess access, ref Envelope envelope, in RequestId id)
    {
        if (!access.AllowsIdentity(connection.User, out var code, out var message))
        {
            Deny(connection, procedure, envelope.HasId, id, code, message!);
            return default;
        }
        if (access.Policies.Length == 0)
        {
            procedure.Dispatch(connection, ref envelope, id);
            return default;
        }
        var context = connection.PolicyContext;
        context.Procedure = procedure;
        ValueTask<int> verdict;
        try
        {
            verdict = access.EvaluateAsync(context);
        }
        catch (Exception ex)
        {
            PolicyFailed(connection, procedure, envelope.HasId, id, ex);
            return default;
        }
        if (!verdict.IsCompletedSuccessfully) return DispatchAfterPolicyAsync(connection, procedure, access, verdict, envelope, id);
        Decide(connection, procedure, access, verdict.Result, ref envelope, id);
        return default;
    }

    private static async ValueTask DispatchAfterPolicyAsync(RpcConnection connection, Procedure procedure, ProcedureAccess access,
        ValueTask<int> pending, Envelope envelope, RequestId id)
    {
        int denied;
        try
        {
            denied = await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            PolicyFailed(connection, procedure, envelope.HasId, id, ex);
            return;
        }
        // The client went away while its policy was asked: nobody is left to answer.
        if (connection.Session.IsClosed) return;
        Decide(connection, procedure, access, denied, ref envelope, id);
    }

    private static void Decide(RpcConnection connection, Procedure procedure, ProcedureAccess access, int denied, ref Envelope envelope, in RequestId id)
    {
        if (denied >= 0)
        {
            Deny(connection, procedure, envelope.HasId, id, ErrorCode.PermissionDenied, $"is denied by policy '{access.Policies[denied].Name}'");
            return;
        }
        procedure.Dispatch(connection, ref envelope, id);
    }

    private static void Deny(RpcConnection connection, Procedure procedure, bool hasId, in RequestId id, ErrorCode code, string reason)
    {
        procedure.Stats.Count(code);
        if (connection.Faults.MayLog(LogLevel.Debug)) AuthzLog.Denied(connection.Logger, connection.Session.Id, procedure.Name, code.WireName(), reason);
        if (hasId) connection.Replies.SendError(id, code, $"'{procedure.Name}' {reason}");
    }

    private static void PolicyFailed(RpcConnection connection, Procedure procedure, bool hasId, in RequestId id, Exception ex)
    {
        if (ex is RpcException rpc)
        {
            procedure.Stats.Count(rpc.Code);
            if (hasId) connection.Replies.SendError(id, rpc.Code, rpc.Message, rpc.Retryable, rpc.RetryAfter, rpc.Details);
            return;
        }
        procedure.Stats.Count(ErrorCode.Internal);
        connection.Metrics?.InternalError();
        if (connection.Faults.MayLog(LogLevel.Error)) AuthzLog.PolicyFailed(connection.Logger, connection.Session.Id, procedure.Name, ex);
        if (hasId) connection.Replies.SendError(id, ErrorCode.Internal, "internal error");
    }
}
