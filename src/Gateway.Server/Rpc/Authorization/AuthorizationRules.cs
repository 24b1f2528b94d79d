using System.Reflection;
using Gateway.Server.Plugins;

namespace Gateway.Server.Rpc;

/// <summary>
/// What a procedure's <see cref="AuthorizeAttribute"/>s and <see cref="AllowAnonymousAttribute"/> ask, read once at startup
/// from its class and method. Every requirement must pass: an authenticated user, one role of each role list, each policy.
/// </summary>
internal sealed class AuthorizationRules
{
    private AuthorizationRules(string[][] roleSets, string[] policies)
    {
        RoleSets = roleSets;
        Policies = policies;
    }

    /// <summary>Each entry is one attribute's roles: the user needs at least one of them.</summary>
    public string[][] RoleSets { get; }
    /// <summary>The policy names, in declaration order (class first), without repeats.</summary>
    public string[] Policies { get; }
    /// <summary>Every role named, for $describe.</summary>
    public string[] AllRoles => RoleSets.SelectMany(r => r).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>The rules of <paramref name="method"/>, or null when it is open to every connection.</summary>
    public static AuthorizationRules? Read(Type serviceType, MethodInfo method, string where)
    {
        var onClass = serviceType.GetCustomAttributes<AuthorizeAttribute>(inherit: true).ToArray();
        var onMethod = method.GetCustomAttributes<AuthorizeAttribute>(inherit: true).ToArray();
        bool classAnonymous = serviceType.GetCustomAttribute<AllowAnonymousAttribute>(inherit: true) is not null;
        bool methodAnonymous = method.GetCustomAttribute<AllowAnonymousAttribute>(inherit: true) is not null;
        if (methodAnonymous && onMethod.Length > 0)
            throw new PluginLoadException($"{where}: [AllowAnonymous] and [Authorize] on the same method; keep one.");
        if (classAnonymous && onClass.Length > 0)
            throw new PluginLoadException($"{where}: [AllowAnonymous] and [Authorize] on the same class {serviceType.Name}; keep one.");
        if (classAnonymous && onMethod.Length > 0)
            throw new PluginLoadException($"{where}: [Authorize] on a method of an [AllowAnonymous] class (ASP.NET Core would ignore it and leave the method open); remove [AllowAnonymous] from the class.");
        if (methodAnonymous) return null;
        var all = onClass.Concat(onMethod).ToArray();
        if (all.Length == 0) return null;

        var roleSets = new List<string[]>();
        var policies = new List<string>();
        foreach (var a in all)
        {
            if (a.Roles is not null)
            {
                var roles = a.Roles.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                if (roles.Length == 0) throw new PluginLoadException($"{where}: [Authorize(Roles = \"{a.Roles}\")] names no role; give comma-separated roles or leave Roles out.");
                roleSets.Add(roles);
            }
            if (a.Policy is not null)
            {
                if (string.IsNullOrWhiteSpace(a.Policy)) throw new PluginLoadException($"{where}: [Authorize(Policy = \"\")] names no policy.");
                if (!policies.Contains(a.Policy, StringComparer.Ordinal)) policies.Add(a.Policy);
            }
        }
        return new AuthorizationRules(roleSets.ToArray(), policies.ToArray());
    }
}
