using System.Text.Json;
using System.Text.Json.Serialization;
using Gateway.Server.Auth;

namespace Gateway.Server.Rpc;

/// <summary>The input of <c>$auth</c>: a fresh token for the connection's user.</summary>
public sealed record AuthRequest([property: JsonPropertyName("token")] string Token);

/// <summary>The answer of <c>$auth</c>: the user the connection now acts for, and when the new credentials expire (null: never).</summary>
public sealed record AuthReply(
    [property: JsonPropertyName("userId")] string? UserId,
    [property: JsonPropertyName("expiresAt")] DateTimeOffset? ExpiresAt);

/// <summary>
/// The built-in <c>$auth</c> <c>{"token":…}</c>: replaces the connection's credentials in-band, so a client refreshes
/// before its token expires instead of being closed with 4401. The new token must be valid (the built-in JWT check) and
/// for the same user (PERMISSION_DENIED otherwise: changing user means a new connection); an anonymous connection
/// (Optional mode) may sign in this way. Bound like the plugins' procedures (rate limits, in-flight limit, cancellation).
/// </summary>
internal static class AuthProcedure
{
    public static async ValueTask<AuthReply> Auth(AuthRequest input, RpcContext context)
    {
        var connection = ((RpcCall)context).Connection;
        var session = connection.Session;
        var auth = session.Authentication;
        if (auth is null) throw new RpcException(ErrorCode.FailedPrecondition, "authentication is off on this gateway");
        if (string.IsNullOrEmpty(input?.Token)) throw new RpcException(ErrorCode.InvalidArgument, "token is required");
        var result = await auth.RefreshAsync(session.Id, session.RemoteEndPoint, session.Identity, input.Token, context.CancellationToken).ConfigureAwait(false);
        if (result.Identity is not { } identity)
            throw new RpcException(result.Code, result.Message!) { RetryAfter = result.RetryAfter > TimeSpan.Zero ? result.RetryAfter : null };
        session.Identity = identity;
        session.CredentialsExpireAtMs = auth.ExpiryDeadlineMs(identity);
        connection.User = identity.Principal;
        // Same user: nothing to re-register. A sign-in from anonymous registers the user (events to it reach this connection).
        if (identity.UserId is not null && connection.UserId != identity.UserId) await context.SetUserIdAsync(identity.UserId).ConfigureAwait(false);
        return new AuthReply(identity.UserId, identity.ExpiresAt);
    }

    public static IEnumerable<Procedure> Bind(JsonSerializerOptions json)
    {
        var info = typeof(AuthProcedure).GetMethod(nameof(Auth))!;
        var descriptor = ProcedureDescriptor.Analyze("(built-in)", typeof(AuthProcedure), "$", info, new RpcAttribute("auth"), json, fullName: "$auth");
        yield return descriptor.Bind(null, json);
    }
}
