using System.Buffers;
using Gateway.Server.Codec;

namespace Gateway.Server.Push;

/// <summary>A call another node asked this node to make on one of its connections: the answer goes back to that node.</summary>
internal sealed class ForwardedServerCall(PushHub hub, string originNode, long correlation) : ServerCall
{
    public string OriginNode { get; } = originNode;
    public long Correlation { get; } = correlation;
    public CancellationTokenSource? Timeout { get; set; }
    public Rpc.RpcConnection? Connection { get; set; }

    public override void OnResult(in ReadOnlySequence<byte> json)
    {
        if (TryClaim()) hub.SendReply(this, isError: false, json);
    }

    public override void OnError(in ReadOnlySequence<byte> errorObject)
    {
        if (TryClaim()) hub.SendReply(this, isError: true, errorObject);
    }

    public override void OnFailed(ErrorCode code, string message)
    {
        if (TryClaim()) hub.SendReply(this, isError: true, new ReadOnlySequence<byte>(ErrorObjects.ToBytes(code, message)));
    }

    /// <summary>The origin cancelled or gave up: nothing goes back.</summary>
    public bool Abandon() => TryClaim();
}
