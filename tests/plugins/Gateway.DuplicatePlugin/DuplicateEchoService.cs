namespace Gateway.DuplicatePlugin;

/// <summary>Declares echo/echo, which the sample plugin (Gateway.Samples) declares too.</summary>
[RpcService("echo")]
public sealed class DuplicateEchoService
{
    [Rpc("echo")]
    public string EchoAgain(string input) => input;
}
