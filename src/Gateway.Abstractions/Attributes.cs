namespace Gateway;

/// <summary>
/// Marks a class whose methods are gateway procedures. Procedures are named <c>service/method</c>.
/// The class is created once by dependency injection (a singleton) and may take any registered service
/// in its constructor; per-connection state belongs in <see cref="RpcContext.Items"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class RpcServiceAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="name">The service part of every procedure name, e.g. <c>"echo"</c>. Letters, digits, '_', '-', '.'.</param>
    public RpcServiceAttribute(string name) => Name = name;

    /// <summary>The service part of every procedure name.</summary>
    public string Name { get; }
}

/// <summary>Base of the attributes that turn a method into a procedure.</summary>
public abstract class ProcedureAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    protected ProcedureAttribute(string name) => Name = name;

    /// <summary>The method part of the procedure name.</summary>
    public string Name { get; }

    /// <summary>
    /// Deadline of one call in milliseconds, overriding <c>Gateway:Timeouts:Request</c>: past it the caller gets
    /// <c>DEADLINE_EXCEEDED</c> and the handler's CancellationToken fires. 0 (the default) uses the configured
    /// value; -1 means no deadline for this procedure. Not applied to subscriptions.
    /// </summary>
    public int TimeoutMs { get; set; }
}

/// <summary>
/// A request: one input, exactly one reply (<c>result</c> or <c>error</c>). The method may take a typed
/// input (any JSON-serializable type), an <see cref="RpcContext"/> and a <see cref="CancellationToken"/>,
/// in any order, and return <c>T</c>, <c>Task&lt;T&gt;</c>, <c>ValueTask&lt;T&gt;</c>, <c>Task</c>,
/// <c>ValueTask</c> or <c>void</c> (the last three answer <c>null</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class RpcAttribute : ProcedureAttribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="name">The method part of the procedure name.</param>
    public RpcAttribute(string name) : base(name) { }
}

/// <summary>
/// A subscription: the method returns <c>IAsyncEnumerable&lt;T&gt;</c>; each item is sent as
/// <c>{"id","data"}</c>, the end as <c>{"id","data":null,"done":true}</c>. A client <c>cancel</c>
/// or the connection closing fires the method's <see cref="CancellationToken"/> (mark it with
/// <c>[EnumeratorCancellation]</c>) and nothing more is sent for that id.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class SubscriptionAttribute : ProcedureAttribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="name">The method part of the procedure name.</param>
    public SubscriptionAttribute(string name) : base(name) { }
}

/// <summary>
/// A notification: fire and forget. Nothing is ever sent back, not even an error; failures are logged.
/// Same signatures as <see cref="RpcAttribute"/>; a return value is ignored.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class NotificationAttribute : ProcedureAttribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="name">The method part of the procedure name.</param>
    public NotificationAttribute(string name) : base(name) { }
}
