using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Gateway.Server.Push;

/// <summary>
/// A call from the server waiting for its answer: on a connection (the client's <c>result</c> or <c>error</c>), or on
/// another node (its Reply message). Exactly one of the completion methods wins; the others do nothing.
/// </summary>
internal abstract class ServerCall
{
    private int _done;

    /// <summary>The id this call has on its connection's wire (0 until sent).</summary>
    public long WireId { get; set; }

    /// <summary>Claims the right to complete the call.</summary>
    protected bool TryClaim() => Interlocked.Exchange(ref _done, 1) == 0;
    public bool IsDone => Volatile.Read(ref _done) != 0;

    /// <summary>The answer's <c>result</c> JSON (valid during the call).</summary>
    public abstract void OnResult(in ReadOnlySequence<byte> json);

    /// <summary>The answer's <c>error</c> object (valid during the call).</summary>
    public abstract void OnError(in ReadOnlySequence<byte> errorObject);

    /// <summary>No answer will come: the connection closed, the deadline passed, the node is gone.</summary>
    public abstract void OnFailed(ErrorCode code, string message);
}
