using System.Diagnostics;
using Gateway.Tests.Shared;

namespace Gateway.Server.Tests;

/// <summary>The watchdog HostProcess and RedisServer start next to their children: the child dies when its "test process" does.</summary>
public class ChildProcessGuardTests
{
    private static Process Sleep()
    {
        var psi = new ProcessStartInfo("sleep") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("120");
        return Process.Start(psi)!;
    }

    [Fact]
    public async Task A_guarded_child_is_killed_when_the_process_it_is_tied_to_is_hard_killed()
    {
        using var parent = Sleep();  // stands in for a test host killed by --blame-hang-timeout
        using var child = Sleep();
        try
        {
            ChildProcessGuard.KillWith(child, parent.Id);
            Assert.False(child.HasExited);
            parent.Kill(); // SIGKILL: no handler of the "test process" runs
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await child.WaitForExitAsync(cts.Token);
            Assert.True(child.HasExited);
        }
        finally
        {
            try { parent.Kill(); } catch (InvalidOperationException) { }
            try { child.Kill(); } catch (InvalidOperationException) { }
        }
    }
}
