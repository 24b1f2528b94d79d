using System.Security.Claims;
using Gateway.Server.Plugins;

namespace Gateway.Server.Rpc;

/// <summary>
/// A procedure's authorization, bound at startup: its <see cref="AuthorizationRules"/> with the policies resolved. The
/// identity and role checks are synchronous and allocate nothing; policies are asked in order, the first "no" wins.
/// </summary>
internal sealed class ProcedureAccess
{
    private readonly string[][] _roleSets;

    public ProcedureAccess(ProcedureDescriptor descriptor, AuthorizationRules rules, IReadOnlyDictionary<string, IRpcAuthorizationPolicy> policies)
    {
        Rules = rules;
        _roleSets = rules.RoleSets;
        Policies = new IRpcAuthorizationPolicy[rules.Policies.Length];
        for (int i = 0; i < Policies.Length; i++)
        {
            if (!policies.TryGetValue(rules.Policies[i], out var policy))
            {
                string known = policies.Count == 0 ? "none is registered" : "registered: " + string.Join(", ", policies.Keys.Order(StringComparer.Ordinal));
                throw new PluginLoadException($"{descriptor.Where}: [Authorize(Policy = \"{rules.Policies[i]}\")] names no policy ({known}); register an IRpcAuthorizationPolicy with that Name in the plugin's ConfigureServices.");
            }
            Policies[i] = policy;
        }
    }

    public AuthorizationRules Rules { get; }
    public IRpcAuthorizationPolicy[] Policies { get; }

    /// <summary>The identity and role checks. False sets the error the caller gets.</summary>
    public bool AllowsIdentity(ClaimsPrincipal user, out ErrorCode code, out string? message)
    {
        if (user.Identity is not { IsAuthenticated: true })
        {
            code = ErrorCode.Unauthenticated;
            message = "requires an authenticated connection";
            return false;
        }
        foreach (var set in _roleSets)
        {
            if (!InAnyRole(user, set))
            {
                code = ErrorCode.PermissionDenied;
                message = set.Length == 1 ? $"requires role '{set[0]}'" : $"requires one of the roles {string.Join(", ", set)}";
                return false;
            }
        }
        code = default;
        message = null;
        return true;
    }

    private static bool InAnyRole(ClaimsPrincipal user, string[] roles)
    {
        foreach (var role in roles)
        {
            if (user.IsInRole(role)) return true;
        }
        return false;
    }

    /// <summary>Asks the policies in order: the index of the first that refuses, or -1 when all allow.</summary>
    public ValueTask<int> EvaluateAsync(RpcContext context)
    {
        for (int i = 0; i < Policies.Length; i++)
        {
            var pending = Policies[i].IsAllowedAsync(context);
            if (!pending.IsCompletedSuccessfully) return EvaluateSlowAsync(context, i, pending);
            if (!pending.Result) return new ValueTask<int>(i);
        }
        return new ValueTask<int>(-1);
    }

    private async ValueTask<int> EvaluateSlowAsync(RpcContext context, int index, ValueTask<bool> pending)
    {
        if (!await pending.ConfigureAwait(false)) return index;
        for (int i = index + 1; i < Policies.Length; i++)
        {
            if (!await Policies[i].IsAllowedAsync(context).ConfigureAwait(false)) return i;
        }
        return -1;
    }

    /// <summary>Whether $describe lists the procedure to <paramref name="user"/>: identity and roles pass (policies are not asked).</summary>
    public bool IsVisibleTo(ClaimsPrincipal user) => AllowsIdentity(user, out _, out _);
}
