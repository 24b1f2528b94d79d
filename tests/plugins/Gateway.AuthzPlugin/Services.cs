using System.Runtime.CompilerServices;

namespace Gateway.AuthzPlugin;

public sealed record Point(int X, int Y);

public sealed class WaitInput
{
    public string Line { get; set; } = "";
    public int TimeoutMs { get; set; } = 5000;
}

/// <summary>Every procedure needs an authenticated connection, except where a method says otherwise.</summary>
[RpcService("secure")]
[Authorize]
public sealed class SecureService(Journal journal)
{
    [Rpc("hello")]
    public string Hello(RpcContext context) => "hello " + context.User.Identity!.Name;

    [Rpc("open")]
    [AllowAnonymous]
    public string Open() => "open";

    [Rpc("ops")]
    [Authorize(Roles = "admin, ops")]
    public string Ops() => "ops ok";

    /// <summary>Role admin and a Point input: an unauthorized call with a malformed input must get the auth error.</summary>
    [Rpc("swap")]
    [Authorize(Roles = "admin")]
    public Point Swap(Point input) => new(input.Y, input.X);

    [Rpc("tenant")]
    [Authorize(Policy = "tenant-acme")]
    public string Tenant() => "tenant ok";

    [Rpc("tenantSlow")]
    [Authorize("tenant-acme-slow")]
    public string TenantSlow(int seq) => "slow " + seq;

    /// <summary>Two requirements, both needed: role admin and the tenant policy.</summary>
    [Rpc("both")]
    [Authorize(Roles = "admin", Policy = "tenant-acme")]
    public string Both() => "both ok";

    [Rpc("throwing")]
    [Authorize(Policy = "throws")]
    public string Throwing() => "unreachable";

    [Notification("note")]
    [Authorize(Roles = "admin")]
    public void Note(string text) => journal.Add("note " + text);

    [Subscription("ticks")]
    [Authorize(Roles = "admin")]
    public async IAsyncEnumerable<int> Ticks(int count, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (int i = 0; i < count; i++)
        {
            await Task.Yield();
            yield return i;
        }
    }
}

/// <summary>Procedures the filters act on (see <see cref="RecordingFilter"/>).</summary>
[RpcService("filtered")]
public sealed class FilteredService(Journal journal)
{
    [Rpc("echo")]
    public string Echo(string text)
    {
        journal.Add("handler filtered/echo");
        return text;
    }

    [Rpc("blocked")]
    public string Blocked()
    {
        journal.Add("handler filtered/blocked");
        return "unreachable";
    }

    [Rpc("explode")]
    public string Explode()
    {
        journal.Add("handler filtered/explode");
        return "unreachable";
    }

    [Rpc("swallow")]
    public string Swallow()
    {
        journal.Add("handler filtered/swallow");
        return "unreachable";
    }

    [Rpc("notFound")]
    public string NotFound() => throw new RpcException(ErrorCode.NotFound, "nothing here");

    [Notification("note")]
    public void Note(string text) => journal.Add("handler filtered/note " + text);

    [Subscription("count")]
    public async IAsyncEnumerable<int> Count(int n, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (int i = 0; i < n; i++)
        {
            await Task.Yield();
            yield return i;
        }
        journal.Add("handler filtered/count ended");
    }
}

/// <summary>The journal, over the wire. Open to everyone.</summary>
[RpcService("journal")]
public sealed class JournalService(Journal journal)
{
    [Rpc("lines")]
    public string[] Lines() => journal.Lines();

    [Rpc("waitFor")]
    public Task<bool> WaitFor(WaitInput input) => journal.WaitForAsync(input.Line, TimeSpan.FromMilliseconds(input.TimeoutMs));

    /// <summary>Whether the connection hook put its mark in the connection's items before this call.</summary>
    [Rpc("marked")]
    public bool Marked(RpcContext context) => context.Items.ContainsKey("hooks.connected");
}
