namespace Greeter.Contracts;

/// <summary>The input of <see cref="IGreeter.HelloAsync"/>.</summary>
public sealed record HelloRequest(string Name);

/// <summary>The answer of <see cref="IGreeter.HelloAsync"/>.</summary>
public sealed record HelloReply(string Greeting);

/// <summary>The input of <see cref="IGreeter.CountdownAsync"/>.</summary>
public sealed record CountdownRequest(int From, int DelayMs);

/// <summary>
/// The greeter service, procedures <c>greeter/hello</c> and <c>greeter/countdown</c>: the proxy names them after the
/// interface (IGreeter → greeter) and the method (HelloAsync → hello), which is what the plugin's attributes say too.
/// </summary>
public interface IGreeter
{
    /// <summary>Greets someone by name; INVALID_ARGUMENT for an empty name.</summary>
    Task<HelloReply> HelloAsync(HelloRequest request, CancellationToken cancellationToken = default);

    /// <summary>Streams From, From-1, … 0, waiting DelayMs between numbers.</summary>
    IAsyncEnumerable<int> CountdownAsync(CountdownRequest request, CancellationToken cancellationToken = default);
}
