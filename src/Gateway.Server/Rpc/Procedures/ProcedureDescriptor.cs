using System.Linq.Expressions;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Server.Codec;
using Gateway.Server.Plugins;

namespace Gateway.Server.Rpc;

/// <summary>
/// A handler method found in a plugin, checked once at startup. <see cref="Bind"/> turns it into a
/// <see cref="Procedure"/>: a compiled delegate typed by input and output, so a call does no reflection,
/// no boxing and (on the synchronous path) no Task allocation.
/// </summary>
internal sealed class ProcedureDescriptor
{
    public required string Name { get; init; }
    public required ProcedureKind Kind { get; init; }
    public required string Plugin { get; init; }
    public required Type ServiceType { get; init; }
    public required MethodInfo Method { get; init; }
    public Type? InputType { get; init; }
    public bool InputRequired { get; init; }
    /// <summary>The result (or stream item) type; null when the handler returns nothing.</summary>
    public Type? OutputType { get; init; }
    internal ReturnShape Shape { get; init; }
    /// <summary>The attribute's TimeoutMs: 0 = configured default, -1 = none, else milliseconds.</summary>
    public int TimeoutMs { get; init; }
    /// <summary>Its [Authorize]/[AllowAnonymous] rules (class and method); null = open to every connection.</summary>
    public AuthorizationRules? Authorization { get; init; }

    public string Where => $"plugin '{Plugin}', {ServiceType.FullName}.{Method.Name}";

    /// <summary>Checks a method's signature against what the dispatcher supports.</summary>
    public static ProcedureDescriptor Analyze(string plugin, Type serviceType, string serviceName, MethodInfo method, ProcedureAttribute attribute, JsonSerializerOptions json,
        string? fullName = null)
    {
        string where = $"plugin '{plugin}', {serviceType.FullName}.{method.Name}";
        // fullName: the gateway's own built-ins ($subscribe...), whose names plugins can never take.
        if (fullName is null && !IsValidName(attribute.Name)) throw new PluginLoadException($"{where}: procedure name '{attribute.Name}' may only contain letters, digits, '_', '-' and '.'.");
        if (attribute.TimeoutMs < -1) throw new PluginLoadException($"{where}: TimeoutMs must be -1 (no deadline), 0 (the configured default) or a number of milliseconds (got {attribute.TimeoutMs}).");
        if (!method.IsPublic) throw new PluginLoadException($"{where}: a procedure method must be public.");
        if (method.IsGenericMethodDefinition) throw new PluginLoadException($"{where}: a procedure method cannot be generic.");

        Type? input = null;
        string? inputName = null;
        bool required = false;
        var nullability = new NullabilityInfoContext();
        foreach (var p in method.GetParameters())
        {
            var t = p.ParameterType;
            if (t == typeof(RpcContext) || t == typeof(CancellationToken)) continue;
            if (t.IsByRef || p.IsOut || t.IsPointer) throw new PluginLoadException($"{where}: parameter '{p.Name}' is by reference; handlers take (input, RpcContext, CancellationToken) by value.");
            if (input is not null) throw new PluginLoadException($"{where}: parameters '{inputName}' and '{p.Name}' are both inputs; a handler takes at most one input object plus RpcContext and CancellationToken.");
            input = t;
            inputName = p.Name;
            required = t.IsValueType ? Nullable.GetUnderlyingType(t) is null : nullability.Create(p).ReadState != NullabilityState.Nullable;
        }

        var ret = method.ReturnType;
        ReturnShape shape;
        Type? output;
        if (ret == typeof(void)) { shape = ReturnShape.Void; output = null; }
        else if (ret == typeof(Task)) { shape = ReturnShape.Task; output = null; }
        else if (ret == typeof(ValueTask)) { shape = ReturnShape.ValueTask; output = null; }
        else if (ret.IsGenericType && ret.GetGenericTypeDefinition() == typeof(Task<>)) { shape = ReturnShape.TaskOfT; output = ret.GetGenericArguments()[0]; }
        else if (ret.IsGenericType && ret.GetGenericTypeDefinition() == typeof(ValueTask<>)) { shape = ReturnShape.ValueTaskOfT; output = ret.GetGenericArguments()[0]; }
        else if (ret.IsGenericType && ret.GetGenericTypeDefinition() == typeof(IAsyncEnumerable<>)) { shape = ReturnShape.AsyncEnumerable; output = ret.GetGenericArguments()[0]; }
        else { shape = ReturnShape.Value; output = ret; }

        var kind = attribute switch
        {
            SubscriptionAttribute => ProcedureKind.Subscription,
            NotificationAttribute => ProcedureKind.Notification,
            _ => ProcedureKind.Request,
        };
        if (kind == ProcedureKind.Subscription)
        {
            if (shape != ReturnShape.AsyncEnumerable) throw new PluginLoadException($"{where}: a [Subscription] must return IAsyncEnumerable<T> (it returns {Pretty(ret)}).");
            if (!method.GetParameters().Any(p => p.ParameterType == typeof(CancellationToken)))
                throw new PluginLoadException($"{where}: a [Subscription] must take a CancellationToken (marked [EnumeratorCancellation] in an async iterator) so cancel and disconnect can stop it.");
        }
        else if (shape == ReturnShape.AsyncEnumerable)
        {
            throw new PluginLoadException($"{where}: returns IAsyncEnumerable<T>; mark it [Subscription] instead of [{(kind == ProcedureKind.Request ? "Rpc" : "Notification")}].");
        }
        if (output is not null && (output.IsByRefLike || output.IsPointer || output == typeof(Task) || output == typeof(ValueTask)))
            throw new PluginLoadException($"{where}: unsupported return type {Pretty(ret)}; use T, Task<T>, ValueTask<T>, Task, ValueTask or void.");

        CheckSerializable(where, "input", input, json);
        CheckSerializable(where, "output", output, json);

        return new ProcedureDescriptor
        {
            Name = fullName ?? serviceName + "/" + attribute.Name,
            Kind = kind,
            Plugin = plugin,
            ServiceType = serviceType,
            Method = method,
            InputType = input,
            InputRequired = required,
            OutputType = output,
            Shape = shape,
            TimeoutMs = attribute.TimeoutMs,
            Authorization = AuthorizationRules.Read(serviceType, method, where),
        };
    }

    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 100 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');

    private static void CheckSerializable(string where, string what, Type? type, JsonSerializerOptions json)
    {
        if (type is null) return;
        if (type.IsAbstract && !type.IsInterface && type != typeof(object))
            throw new PluginLoadException($"{where}: {what} type {Pretty(type)} is abstract and cannot be created from JSON.");
        try { json.GetTypeInfo(type); }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new PluginLoadException($"{where}: {what} type {Pretty(type)} is not JSON-serializable: {ex.Message}", ex);
        }
    }

    internal static string Pretty(Type t) => t.IsGenericType
        ? t.Name[..t.Name.IndexOf('`')] + "<" + string.Join(", ", t.GetGenericArguments().Select(Pretty)) + ">"
        : t.Name;

    public string InputTypeName => InputType is null ? "none" : Pretty(InputType);
    public string OutputTypeName => OutputType is null ? "none" : Pretty(OutputType);
    private string? _inputShape;
    /// <summary>The input in the client's terms ("an object", "an integer"...), for error messages; never a .NET type name.</summary>
    public string InputShape => _inputShape ??= InputType is null ? "no input" : JsonShape.Describe(InputType);

    private static readonly MethodInfo FromValueTask = typeof(NoOutput).GetMethod(nameof(NoOutput.From))!;

    /// <summary>Compiles the invoker and creates the typed procedure around the service instance.</summary>
    public Procedure Bind(object? service, JsonSerializerOptions json)
    {
        var tin = InputType ?? typeof(NoInput);
        var svc = Expression.Parameter(typeof(object), "service");
        var input = Expression.Parameter(tin, "input");
        var ctx = Expression.Parameter(typeof(RpcContext), "context");
        var ct = Expression.Parameter(typeof(CancellationToken), "cancellationToken");
        var args = Method.GetParameters().Select(p =>
            p.ParameterType == typeof(RpcContext) ? (Expression)ctx :
            p.ParameterType == typeof(CancellationToken) ? ct : input).ToArray();
        Expression? instance = Method.IsStatic ? null : Expression.Convert(svc, ServiceType);
        Expression call = Expression.Call(instance, Method, args);

        Type resultType;
        Expression body;
        switch (Shape)
        {
            case ReturnShape.Value:
                resultType = typeof(ValueTask<>).MakeGenericType(OutputType!);
                body = Expression.New(resultType.GetConstructor([OutputType!])!, call);
                break;
            case ReturnShape.TaskOfT:
                resultType = typeof(ValueTask<>).MakeGenericType(OutputType!);
                body = Expression.New(resultType.GetConstructor([typeof(Task<>).MakeGenericType(OutputType!)])!, call);
                break;
            case ReturnShape.ValueTaskOfT:
            case ReturnShape.AsyncEnumerable:
                resultType = Method.ReturnType;
                body = call;
                break;
            case ReturnShape.ValueTask:
                resultType = typeof(ValueTask<NoOutput>);
                body = Expression.Call(FromValueTask, call);
                break;
            case ReturnShape.Task:
                resultType = typeof(ValueTask<NoOutput>);
                body = Expression.Call(FromValueTask, Expression.New(typeof(ValueTask).GetConstructor([typeof(Task)])!, call));
                break;
            default:
                resultType = typeof(ValueTask<NoOutput>);
                body = Expression.Block(call, Expression.Default(typeof(ValueTask<NoOutput>)));
                break;
        }
        var delegateType = typeof(Func<,,,,>).MakeGenericType(typeof(object), tin, typeof(RpcContext), typeof(CancellationToken), resultType);
        var invoker = Expression.Lambda(delegateType, body, svc, input, ctx, ct).Compile();

        Type procedureType = Shape switch
        {
            ReturnShape.AsyncEnumerable => typeof(SubscriptionProcedure<,>).MakeGenericType(tin, OutputType!),
            _ => typeof(RequestProcedure<,>).MakeGenericType(tin, OutputType ?? typeof(NoOutput)),
        };
        object? inputInfo = InputType is null ? null : json.GetTypeInfo(InputType);
        object? outputInfo = OutputType is null ? null : json.GetTypeInfo(OutputType);
        var procedure = (Procedure)Activator.CreateInstance(procedureType, this, service, invoker, inputInfo, outputInfo)!;
        return procedure;
    }
}
