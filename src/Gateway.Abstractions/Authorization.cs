namespace Gateway;

/// <summary>
/// Restricts a service (every procedure of the class) or one procedure to authenticated connections, optionally to
/// some roles or a named policy. Named like ASP.NET Core's attribute. Every <c>[Authorize]</c> requires an
/// authenticated connection (<see cref="RpcContext.User"/>); several (on the class and on the method, or repeated)
/// must all pass. Checked on the read loop before the input is read: a caller without an identity gets
/// <c>UNAUTHENTICATED</c>, an authenticated caller that fails a role or policy <c>PERMISSION_DENIED</c>
/// (a notification is dropped). <see cref="AllowAnonymousAttribute"/> on a method lifts its class's requirements.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = true, Inherited = true)]
public sealed class AuthorizeAttribute : Attribute
{
    /// <summary>Requires an authenticated connection.</summary>
    public AuthorizeAttribute() { }

    /// <summary>Requires an authenticated connection that the named policy allows.</summary>
    /// <param name="policy">The <see cref="IRpcAuthorizationPolicy.Name"/> of a policy a plugin registers.</param>
    public AuthorizeAttribute(string policy) => Policy = policy;

    /// <summary>
    /// The name of an <see cref="IRpcAuthorizationPolicy"/> registered in <see cref="IGatewayPlugin.ConfigureServices"/>;
    /// a name no plugin registered stops the gateway at startup.
    /// </summary>
    public string? Policy { get; set; }

    /// <summary>Comma-separated roles, e.g. <c>"admin,ops"</c>: the caller needs at least one (<c>User.IsInRole</c>).</summary>
    public string? Roles { get; set; }
}

/// <summary>
/// Lets any connection, authenticated or not, call the procedure it marks, whatever <see cref="AuthorizeAttribute"/>
/// its class carries. On a class it is refused at startup together with <c>[Authorize]</c> on one of its methods
/// (ASP.NET Core would silently ignore that <c>[Authorize]</c>; here a procedure meant to be protected never opens by accident).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class AllowAnonymousAttribute : Attribute
{
}

/// <summary>
/// A named authorization rule for <c>[Authorize(Policy = "name")]</c>. Register implementations in
/// <see cref="IGatewayPlugin.ConfigureServices"/> (<c>services.AddSingleton&lt;IRpcAuthorizationPolicy, MyPolicy&gt;()</c>);
/// names are unique across plugins (ordinal, case-sensitive).
/// </summary>
/// <remarks>
/// Asked only for an authenticated caller (an anonymous one gets <c>UNAUTHENTICATED</c> first) and before the call's
/// input is read, on the connection's read loop: the connection's next messages wait until it answers, so calls still
/// start in the order sent. Keep it fast (claims, cached lookups); a policy that completes synchronously costs no allocation.
/// Throwing <see cref="RpcException"/> answers the call with that error; any other exception answers <c>INTERNAL</c> (logged).
/// <c>$describe</c> does not ask policies (they may depend on the moment or have costs); see docs/protocol.md.
/// </remarks>
public interface IRpcAuthorizationPolicy
{
    /// <summary>The name <c>[Authorize(Policy = …)]</c> refers to.</summary>
    string Name { get; }

    /// <summary>Whether the call behind <paramref name="context"/> may run. False answers <c>PERMISSION_DENIED</c>.</summary>
    /// <param name="context">The call: its <see cref="RpcContext.Path"/>, <see cref="RpcContext.User"/>, connection id, headers and items (not its input).</param>
    ValueTask<bool> IsAllowedAsync(RpcContext context);
}
