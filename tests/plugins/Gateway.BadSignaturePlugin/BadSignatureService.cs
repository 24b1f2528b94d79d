namespace Gateway.BadSignaturePlugin;

/// <summary>A handler with two input parameters: the loader must refuse it at startup.</summary>
[RpcService("bad")]
public sealed class BadSignatureService
{
    [Rpc("ok")]
    public int Ok(int value) => value;

    [Rpc("add")]
    public int AddTwoInputs(int left, int right) => left + right;
}
