using System.Buffers;
using Gateway.Server.Codec;

namespace Gateway.Server.Push;

/// <summary>A call another node asked this node to make on one of its connections: the answer goes back to that node.</summary>
internal sealed class ForwardedServerCall(ServerCallRouter router, string originNode, long correlation) : ServerCall
{
    public string OriginNode { get; } = originNode;
    public long Correlation { get; } = correlation;
    public CancellationTokenSource? Timeout { get; set; }
    /// <summary>The connection the call went to (null when it was not found).</summary>
    public PushState? Target { get; set; }

    public override void OnResult(in ReadOnlySequence<byte> json)
    {
        if (TryClaim()) router.SendReply(this, isError: false, json);
    }

    public override void OnError(in ReadOnlySequence<byte> errorObject)
    {
        if (TryClaim()) router.SendReply(this, isError: true, errorObject);
    }

    public override void OnFailed(ErrorCode code, string message)
    {
        if (TryClaim()) router.SendReply(this, isError: true, new ReadOnlySequence<byte>(ErrorObjects.ToBytes(code, message)));
    }

    /// <summary>The origin cancelled or gave up: nothing goes back.</summary>
    public bool Abandon() => TryClaim();
}
