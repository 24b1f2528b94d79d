namespace Gateway.DuplicateSelfPlugin;

/// <summary>Two services of one plugin that both declare dup/same.</summary>
[RpcService("dup")]
public sealed class FirstDuplicateService
{
    [Rpc("same")]
    public int First() => 1;
}

[RpcService("dup")]
public sealed class SecondDuplicateService
{
    [Rpc("same")]
    public int Second() => 2;
}
