using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Reflection;

namespace Gateway.Client.Proxies;

/// <summary>
/// The implementation behind <see cref="GatewayClient.CreateProxy{T}"/>: a <see cref="DispatchProxy"/> whose methods were
/// analysed once per (interface, service) and cached, so a call looks its method up in a frozen table and calls the client.
/// </summary>
public class GatewayProxy : DispatchProxy
{
    private static readonly ConcurrentDictionary<(Type, string), FrozenDictionary<MethodInfo, ProxyMethod>> Cache = new();

    private GatewayClient? _client;
    private FrozenDictionary<MethodInfo, ProxyMethod>? _methods;

    /// <summary>The client the proxy calls through.</summary>
    public GatewayClient Client => _client ?? throw new InvalidOperationException("the proxy is not initialized");

    internal static T Create<T>(GatewayClient client, string service) where T : class
    {
        if (!typeof(T).IsInterface) throw new ArgumentException($"{typeof(T).FullName} is not an interface.", nameof(T));
        var methods = Cache.GetOrAdd((typeof(T), service), static key =>
        {
            var (contract, svc) = key;
            var all = contract.GetMethods().Concat(contract.GetInterfaces().SelectMany(i => i.GetMethods()));
            return all.ToFrozenDictionary(m => m, m => ProxyMethod.Analyze(contract, svc, m));
        });
        var proxy = DispatchProxy.Create<T, GatewayProxy>();
        var self = (GatewayProxy)(object)proxy;
        self._client = client;
        self._methods = methods;
        return proxy;
    }

    /// <inheritdoc/>
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (_methods is null || !_methods.TryGetValue(targetMethod, out var method))
            throw new NotSupportedException($"{targetMethod.DeclaringType?.FullName}.{targetMethod.Name} is not a proxied method.");
        return method.Invoke(Client, args);
    }
}
