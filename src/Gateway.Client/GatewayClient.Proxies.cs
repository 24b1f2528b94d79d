using Gateway.Client.Proxies;

namespace Gateway.Client;

public sealed partial class GatewayClient
{
    /// <summary>
    /// An implementation of a contract interface that calls the gateway: the same interface a plugin's service implements.
    /// Each method is a procedure <c>{service}/{name}</c>: <c>name</c> is the Name of an <c>[Rpc]</c>, <c>[Subscription]</c>
    /// or <c>[Notification]</c> attribute on the interface method when there is one, else the method's name without
    /// <c>Async</c>, camelCased. Methods return <c>Task&lt;T&gt;</c>/<c>ValueTask&lt;T&gt;</c> (a request),
    /// <c>Task</c>/<c>ValueTask</c> (a request answered null, or a notification when so attributed) or
    /// <c>IAsyncEnumerable&lt;T&gt;</c> (a subscription), and take at most one input and a <see cref="CancellationToken"/>.
    /// Methods are analysed once per interface (DispatchProxy with cached per-method delegates), not per call.
    /// </summary>
    /// <typeparam name="T">The contract interface, e.g. <c>IGreeter</c>.</typeparam>
    /// <param name="service">The service part of the procedure names; default: the interface's name without its leading
    /// <c>I</c>, camelCased (<c>IGreeter</c> → <c>greeter</c>).</param>
    /// <exception cref="NotSupportedException">A method of the interface has a shape a proxy cannot call.</exception>
    public T CreateProxy<T>(string? service = null) where T : class
    {
        string name = typeof(T).Name;
        service ??= System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(
            name.Length > 1 && name[0] == 'I' && char.IsUpper(name[1]) ? name[1..] : name);
        return GatewayProxy.Create<T>(this, service);
    }
}
