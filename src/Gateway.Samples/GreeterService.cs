using System.Runtime.CompilerServices;
using Greeter.Contracts;

namespace Gateway.Samples;

/// <summary>
/// The typed-proxy example: implements <see cref="IGreeter"/> from the small contracts assembly (samples/Greeter.Contracts)
/// that .NET clients also reference, so <c>client.CreateProxy&lt;IGreeter&gt;()</c> calls these procedures.
/// </summary>
[RpcService("greeter")]
public sealed class GreeterService : IGreeter
{
    /// <summary>Greets someone by name; INVALID_ARGUMENT for an empty name.</summary>
    [Rpc("hello")]
    public Task<HelloReply> HelloAsync(HelloRequest request, CancellationToken cancellationToken = default) =>
        string.IsNullOrWhiteSpace(request.Name)
            ? throw new RpcException(ErrorCode.InvalidArgument, "name is required")
            : Task.FromResult(new HelloReply($"Hello, {request.Name}!"));

    /// <summary>Streams from, from-1, … 0, waiting delayMs (0 to 10000) between numbers.</summary>
    [Subscription("countdown")]
    public async IAsyncEnumerable<int> CountdownAsync(CountdownRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (request.From is < 0 or > 10_000) throw new RpcException(ErrorCode.InvalidArgument, "from must be between 0 and 10000");
        if (request.DelayMs is < 0 or > 10_000) throw new RpcException(ErrorCode.InvalidArgument, "delayMs must be between 0 and 10000");
        for (int i = request.From; i >= 0; i--)
        {
            if (request.DelayMs > 0 && i != request.From) await Task.Delay(request.DelayMs, cancellationToken);
            yield return i;
        }
    }
}
