using System.Text.Json.Nodes;
using Gateway.Rpc.Tests.Infrastructure;

namespace Gateway.Rpc.Tests.Authz;

/// <summary>Gateway:Auth:DescribeVisibleOnly: $describe lists what the caller may call, each entry with its auth member.</summary>
public sealed class DescribeVisibilityTests
{
    private static async Task<Dictionary<string, JsonObject>> DescribeAsync(RpcClient client)
    {
        var list = (await client.ResultAsync("$describe"))!["procedures"]!.AsArray();
        return list.Select(n => n!.AsObject()).ToDictionary(o => o.Str("name")!);
    }

    private static string[] Strings(JsonNode? array) => array!.AsArray().Select(n => n!.GetValue<string>()).ToArray();

    [Fact]
    public async Task By_default_each_caller_sees_only_what_it_may_call()
    {
        await using var gateway = await AuthzKit.StartAsync();
        await using var anonymous = await gateway.ConnectAsync();
        await using var bob = await gateway.ConnectAsync(AuthzKit.As("bob"));
        await using var admin = await gateway.ConnectAsync(AuthzKit.As("ada", roles: "admin"));

        var anon = await DescribeAsync(anonymous);
        Assert.Contains("secure/open", anon.Keys);
        Assert.Contains("echo/echo", anon.Keys);
        Assert.Contains("$ping", anon.Keys);
        Assert.DoesNotContain("secure/hello", anon.Keys);
        Assert.DoesNotContain("secure/tenant", anon.Keys);
        Assert.Equal(false, anon["echo/echo"]["auth"].Bool("required"));

        var plain = await DescribeAsync(bob);
        Assert.Contains("secure/hello", plain.Keys);
        Assert.DoesNotContain("secure/ops", plain.Keys);
        Assert.DoesNotContain("secure/swap", plain.Keys);
        // Policies are not asked by $describe: a policy-guarded procedure shows to an authenticated caller, naming its policies.
        Assert.Contains("secure/tenant", plain.Keys);
        Assert.Equal(["tenant-acme"], Strings(plain["secure/tenant"]["auth"]!["policies"]));

        var full = await DescribeAsync(admin);
        Assert.Contains("secure/swap", full.Keys);
        Assert.Contains("secure/ops", full.Keys);
        var swap = full["secure/swap"]["auth"]!;
        Assert.Equal(true, swap.Bool("required"));
        Assert.Equal(["admin"], Strings(swap["roles"]));
        Assert.Empty(Strings(swap["policies"]));
        Assert.Equal(["admin", "ops"], Strings(full["secure/ops"]["auth"]!["roles"]).Order());
        Assert.True(full.Count > plain.Count && plain.Count > anon.Count);
    }

    [Fact]
    public async Task Turned_off_it_lists_every_procedure_to_everyone_with_its_requirements()
    {
        await using var gateway = await AuthzKit.StartAsync(new Dictionary<string, string?> { ["Gateway:Auth:DescribeVisibleOnly"] = "false" });
        await using var anonymous = await gateway.ConnectAsync();
        await using var admin = await gateway.ConnectAsync(AuthzKit.As("ada", roles: "admin"));

        var anon = await DescribeAsync(anonymous);
        Assert.Contains("secure/hello", anon.Keys);
        Assert.Contains("secure/swap", anon.Keys);
        Assert.Equal(true, anon["secure/hello"]["auth"].Bool("required"));
        Assert.Equal(["admin"], Strings(anon["secure/swap"]["auth"]!["roles"]));
        Assert.Equal((await DescribeAsync(admin)).Keys.Order(), anon.Keys.Order());
    }
}
