using System.Reflection;
using System.Text.Json;

namespace Gateway.Client.Proxies;

/// <summary>
/// One interface method of a typed proxy, analysed once when the proxy is created: its procedure path and a delegate bound
/// to the matching generic client call, so a call through the proxy does no reflection.
/// </summary>
internal sealed class ProxyMethod
{
    private readonly Func<GatewayClient, string, object?, CancellationToken, object?> _invoke;
    private readonly int _inputIndex;
    private readonly int _tokenIndex;

    private ProxyMethod(string path, Func<GatewayClient, string, object?, CancellationToken, object?> invoke, int inputIndex, int tokenIndex)
    {
        Path = path;
        _invoke = invoke;
        _inputIndex = inputIndex;
        _tokenIndex = tokenIndex;
    }

    public string Path { get; }

    public object? Invoke(GatewayClient client, object?[]? args)
    {
        object? input = _inputIndex >= 0 ? args![_inputIndex] : null;
        var token = _tokenIndex >= 0 ? (CancellationToken)args![_tokenIndex]! : default;
        return _invoke(client, Path, input, token);
    }

    public static ProxyMethod Analyze(Type contract, string service, MethodInfo method)
    {
        string where = $"{contract.FullName}.{method.Name}";
        int inputIndex = -1, tokenIndex = -1;
        var parameters = method.GetParameters();
        for (int i = 0; i < parameters.Length; i++)
        {
            if (parameters[i].ParameterType == typeof(CancellationToken)) tokenIndex = i;
            else if (inputIndex < 0 && !parameters[i].ParameterType.IsByRef) inputIndex = i;
            else throw new NotSupportedException($"{where}: a proxied method takes at most one input and a CancellationToken.");
        }
        var (name, kind) = NameAndKind(method);
        string path = service + "/" + name;
        var ret = method.ReturnType;
        string helper;
        Type? item = null;
        if (ret.IsGenericType && ret.GetGenericTypeDefinition() == typeof(IAsyncEnumerable<>)) { helper = nameof(Stream); item = ret.GetGenericArguments()[0]; }
        else if (ret.IsGenericType && ret.GetGenericTypeDefinition() == typeof(Task<>)) { helper = nameof(CallTask); item = ret.GetGenericArguments()[0]; }
        else if (ret.IsGenericType && ret.GetGenericTypeDefinition() == typeof(ValueTask<>)) { helper = nameof(CallValueTask); item = ret.GetGenericArguments()[0]; }
        else if (ret == typeof(Task)) helper = kind == "notification" ? nameof(NotifyTask) : nameof(CallVoidTask);
        else if (ret == typeof(ValueTask)) helper = kind == "notification" ? nameof(NotifyValueTask) : nameof(CallVoidValueTask);
        else throw new NotSupportedException($"{where}: a proxied method returns Task, Task<T>, ValueTask, ValueTask<T> or IAsyncEnumerable<T> (it returns {ret.Name}).");
        var target = typeof(ProxyMethod).GetMethod(helper, BindingFlags.NonPublic | BindingFlags.Static)!;
        if (item is not null) target = target.MakeGenericMethod(item);
        var invoke = target.CreateDelegate<Func<GatewayClient, string, object?, CancellationToken, object?>>();
        return new ProxyMethod(path, invoke, inputIndex, tokenIndex);
    }

    /// <summary>
    /// The procedure name: the Name of an attribute called RpcAttribute, SubscriptionAttribute or NotificationAttribute on
    /// the interface method (the plugin SDK's, when the contracts assembly uses them; matched by name so the client does
    /// not depend on the SDK), else the method's name without "Async", camelCased (HelloAsync → hello).
    /// </summary>
    private static (string Name, string? Kind) NameAndKind(MethodInfo method)
    {
        foreach (var attribute in method.GetCustomAttributes(inherit: false))
        {
            var type = attribute.GetType();
            string? kind = type.Name switch
            {
                "RpcAttribute" => "request",
                "SubscriptionAttribute" => "subscription",
                "NotificationAttribute" => "notification",
                _ => null,
            };
            if (kind is not null && type.GetProperty("Name")?.GetValue(attribute) is string { Length: > 0 } name) return (name, kind);
        }
        string n = method.Name.EndsWith("Async", StringComparison.Ordinal) && method.Name.Length > 5 ? method.Name[..^5] : method.Name;
        return (JsonNamingPolicy.CamelCase.ConvertName(n), null);
    }

    private static object? CallTask<T>(GatewayClient c, string path, object? input, CancellationToken ct) => c.CallAsync<T>(path, input, ct).AsTask();
    private static object? CallValueTask<T>(GatewayClient c, string path, object? input, CancellationToken ct) => c.CallAsync<T>(path, input, ct);
    private static object? CallVoidTask(GatewayClient c, string path, object? input, CancellationToken ct) => c.CallAsync<JsonElement>(path, input, ct).AsTask();
    private static object? CallVoidValueTask(GatewayClient c, string path, object? input, CancellationToken ct) => Discard(c.CallAsync<JsonElement>(path, input, ct));
    private static object? NotifyTask(GatewayClient c, string path, object? input, CancellationToken ct) => c.NotifyAsync(path, input, ct).AsTask();
    private static object? NotifyValueTask(GatewayClient c, string path, object? input, CancellationToken ct) => c.NotifyAsync(path, input, ct);
    private static object? Stream<T>(GatewayClient c, string path, object? input, CancellationToken ct) => c.StreamAsync<T>(path, input, ct);

    private static async ValueTask Discard(ValueTask<JsonElement> call) => await call.ConfigureAwait(false);
}
