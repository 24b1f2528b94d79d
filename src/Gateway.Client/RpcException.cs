using System.Text.Json;

namespace Gateway.Client;

/// <summary>
/// An error answer of the gateway (or of a handler behind it): the protocol's <c>error</c> object. Thrown by
/// <see cref="GatewayClient.CallAsync{TResult}(string, object?, CancellationToken)"/> and the other calls, and thrown by a
/// server-call handler to answer the server with an error.
/// </summary>
public class RpcException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="code">The protocol error code, e.g. <c>NOT_FOUND</c> (<see cref="RpcErrorCodes"/>).</param>
    /// <param name="message">The error message.</param>
    /// <param name="status">The HTTP-like status; 0 takes the code's usual status.</param>
    /// <param name="retryable">Whether the call may be retried; null takes the code's usual retryability.</param>
    /// <param name="retryAfter">How long to wait before a retry, when the server said.</param>
    /// <param name="details">The error's <c>details</c> member as JSON, when there was one.</param>
    /// <param name="innerException">The cause, for errors raised by the client itself.</param>
    public RpcException(string code, string message, int status = 0, bool? retryable = null, TimeSpan? retryAfter = null,
        JsonElement? details = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
        Status = status != 0 ? status : RpcErrorCodes.StatusOf(code);
        Retryable = retryable ?? RpcErrorCodes.IsRetryable(code);
        RetryAfter = retryAfter;
        Details = details;
    }

    /// <summary>The protocol error code as sent on the wire, e.g. <c>NOT_FOUND</c>; see <see cref="RpcErrorCodes"/>.</summary>
    public string Code { get; }

    /// <summary>The HTTP-like status of the error, e.g. 404.</summary>
    public int Status { get; }

    /// <summary>Whether the same call may succeed if made again (the server's <c>retryable</c>).</summary>
    public bool Retryable { get; }

    /// <summary>How long to wait before retrying (<c>retryAfterMs</c>), when the server said.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>The error's <c>details</c>, when the server sent any (read it with <c>Deserialize</c>).</summary>
    public JsonElement? Details { get; }
}

/// <summary>
/// Thrown for a call that was in flight (sent, not yet answered) when the connection was lost, and for a call made while
/// the client is not connected (reconnecting or closed). The call may or may not have run on the server: the client never
/// re-sends it by itself. Its <see cref="RpcException.Code"/> is <c>UNAVAILABLE</c> and it is always
/// <see cref="RpcException.Retryable"/>: retry once <see cref="GatewayClient.State"/> is
/// <see cref="GatewayClientState.Connected"/> again, if the call is safe to repeat.
/// </summary>
public sealed class GatewayConnectionLostException : RpcException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What happened to the connection.</param>
    /// <param name="innerException">The socket error, when there was one.</param>
    public GatewayConnectionLostException(string message, Exception? innerException = null)
        : base(RpcErrorCodes.Unavailable, message, 503, retryable: true, innerException: innerException) { }
}

/// <summary>The protocol's error codes as they appear on the wire, with their statuses and default retryability.</summary>
public static class RpcErrorCodes
{
    /// <summary>400: the input is malformed or fails validation.</summary>
    public const string InvalidArgument = "INVALID_ARGUMENT";
    /// <summary>401: no valid credentials.</summary>
    public const string Unauthenticated = "UNAUTHENTICATED";
    /// <summary>403: authenticated but not allowed.</summary>
    public const string PermissionDenied = "PERMISSION_DENIED";
    /// <summary>404: no such procedure or thing.</summary>
    public const string NotFound = "NOT_FOUND";
    /// <summary>409.</summary>
    public const string AlreadyExists = "ALREADY_EXISTS";
    /// <summary>409, retryable: a concurrency conflict.</summary>
    public const string Aborted = "ABORTED";
    /// <summary>412: the system is not in a state the call needs.</summary>
    public const string FailedPrecondition = "FAILED_PRECONDITION";
    /// <summary>429, retryable: a quota or rate limit (see <see cref="RpcException.RetryAfter"/>).</summary>
    public const string ResourceExhausted = "RESOURCE_EXHAUSTED";
    /// <summary>499: the caller cancelled.</summary>
    public const string Cancelled = "CANCELLED";
    /// <summary>500: a server fault; the message is always generic.</summary>
    public const string Internal = "INTERNAL";
    /// <summary>501.</summary>
    public const string Unimplemented = "UNIMPLEMENTED";
    /// <summary>503, retryable.</summary>
    public const string Unavailable = "UNAVAILABLE";
    /// <summary>504, retryable: past the call's deadline (the server's, or the client's own timeout).</summary>
    public const string DeadlineExceeded = "DEADLINE_EXCEEDED";

    /// <summary>The usual status of a code (500 for a code this client does not know).</summary>
    public static int StatusOf(string code) => code switch
    {
        InvalidArgument => 400, Unauthenticated => 401, PermissionDenied => 403, NotFound => 404,
        AlreadyExists or Aborted => 409, FailedPrecondition => 412, ResourceExhausted => 429, Cancelled => 499,
        Unimplemented => 501, Unavailable => 503, DeadlineExceeded => 504, _ => 500,
    };

    /// <summary>Whether a code is retryable by default: ABORTED, RESOURCE_EXHAUSTED, UNAVAILABLE, DEADLINE_EXCEEDED.</summary>
    public static bool IsRetryable(string code) => code is Aborted or ResourceExhausted or Unavailable or DeadlineExceeded;
}
