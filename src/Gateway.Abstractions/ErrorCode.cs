namespace Gateway;

/// <summary>The protocol's error codes (PROTOCOL.md). Each has a wire name, an HTTP-like status and a default retryability.</summary>
public enum ErrorCode
{
    /// <summary>INVALID_ARGUMENT (400): the input is malformed or fails validation.</summary>
    InvalidArgument,
    /// <summary>UNAUTHENTICATED (401): no valid credentials.</summary>
    Unauthenticated,
    /// <summary>PERMISSION_DENIED (403): authenticated but not allowed.</summary>
    PermissionDenied,
    /// <summary>NOT_FOUND (404): the procedure or the thing asked for does not exist.</summary>
    NotFound,
    /// <summary>ALREADY_EXISTS (409).</summary>
    AlreadyExists,
    /// <summary>ABORTED (409, retryable): a concurrency conflict.</summary>
    Aborted,
    /// <summary>FAILED_PRECONDITION (412): the system is not in a state the call needs.</summary>
    FailedPrecondition,
    /// <summary>RESOURCE_EXHAUSTED (429, retryable): a quota or rate limit; set <see cref="RpcException.RetryAfter"/> where known.</summary>
    ResourceExhausted,
    /// <summary>CANCELLED (499): the caller cancelled.</summary>
    Cancelled,
    /// <summary>INTERNAL (500): a server fault. The message sent is always generic.</summary>
    Internal,
    /// <summary>UNIMPLEMENTED (501).</summary>
    Unimplemented,
    /// <summary>UNAVAILABLE (503, retryable).</summary>
    Unavailable,
    /// <summary>DEADLINE_EXCEEDED (504, retryable).</summary>
    DeadlineExceeded,
}

/// <summary>Wire names, statuses and retryability of <see cref="ErrorCode"/>.</summary>
public static class ErrorCodes
{
    private static readonly string[] Names =
    [
        "INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND", "ALREADY_EXISTS", "ABORTED",
        "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED", "CANCELLED", "INTERNAL", "UNIMPLEMENTED", "UNAVAILABLE",
        "DEADLINE_EXCEEDED",
    ];
    private static readonly int[] Statuses = [400, 401, 403, 404, 409, 409, 412, 429, 499, 500, 501, 503, 504];

    /// <summary>The code as it appears on the wire, e.g. <c>NOT_FOUND</c>.</summary>
    public static string WireName(this ErrorCode code) => Names[(int)code];

    /// <summary>The HTTP-like status of the code, e.g. 404.</summary>
    public static int Status(this ErrorCode code) => Statuses[(int)code];

    /// <summary>Whether a client may retry by default: ABORTED, RESOURCE_EXHAUSTED, UNAVAILABLE, DEADLINE_EXCEEDED.</summary>
    public static bool IsRetryable(this ErrorCode code) =>
        code is ErrorCode.Aborted or ErrorCode.ResourceExhausted or ErrorCode.Unavailable or ErrorCode.DeadlineExceeded;

    /// <summary>Parses a wire name such as <c>NOT_FOUND</c> (case-insensitive).</summary>
    public static bool TryParse(string? wireName, out ErrorCode code)
    {
        for (int i = 0; i < Names.Length; i++)
        {
            if (string.Equals(Names[i], wireName, StringComparison.OrdinalIgnoreCase))
            {
                code = (ErrorCode)i;
                return true;
            }
        }
        code = default;
        return false;
    }
}

/// <summary>
/// Thrown by a handler to answer with a protocol error. Any other exception becomes
/// <c>INTERNAL</c> with a generic message; its details go only to the server log.
/// </summary>
public class RpcException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="code">The protocol error code.</param>
    /// <param name="message">A message for the client; never put secrets or internals here.</param>
    /// <param name="details">Optional JSON-serializable details sent as <c>error.details</c>.</param>
    public RpcException(ErrorCode code, string message, object? details = null) : base(message)
    {
        Code = code;
        Details = details;
    }

    /// <summary>The protocol error code.</summary>
    public ErrorCode Code { get; }

    /// <summary>Optional JSON-serializable details sent as <c>error.details</c>.</summary>
    public object? Details { get; }

    /// <summary>When set, sent as <c>error.retryAfterMs</c>.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>Overrides the code's default retryability.</summary>
    public bool? Retryable { get; init; }
}
