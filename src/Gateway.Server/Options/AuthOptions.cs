namespace Gateway.Server.Options;

/// <summary>
/// Gateway:Auth. Partial: authentication's keys (Mode, Jwt…) and authorization's (here) live in their own files.
/// </summary>
public sealed partial class AuthOptions
{
    /// <summary>
    /// $describe lists only the procedures the caller may call: those without [Authorize], and those whose authenticated
    /// and role requirements the caller meets (policies are not asked). False lists every procedure to everyone. Default true.
    /// </summary>
    public bool DescribeVisibleOnly { get; set; } = true;
}
