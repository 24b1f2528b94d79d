using System.Diagnostics;
using System.Globalization;

namespace Gateway.Tests.Shared;

/// <summary>
/// Makes a child process (redis-server, a gateway host) die with the test process, even when the test host is
/// hard-killed (dotnet test --blame-hang-timeout, SIGKILL) and no Dispose or ProcessExit handler runs.
/// A tiny shell watchdog, started next to the child, polls whether the test process is still alive and SIGKILLs
/// the child when it is not; it ends by itself when the child ends. PR_SET_PDEATHSIG (setpriv --pdeathsig) was
/// not used: it fires when the *thread* that forked the child exits, and .NET starts processes from thread-pool
/// threads that the pool retires while the child should go on running.
/// </summary>
public static class ChildProcessGuard
{
    // $1 = the test process, $2 = the child. kill -0 only asks whether the pid exists.
    private const string Watchdog =
        "while kill -0 \"$1\" 2>/dev/null && kill -0 \"$2\" 2>/dev/null; do sleep 0.5; done; kill -KILL \"$2\" 2>/dev/null; exit 0";

    /// <summary>Starts the watchdog for <paramref name="child"/> (already started).</summary>
    public static void KillWithThisProcess(Process child) => KillWith(child, Environment.ProcessId);

    /// <summary>Starts a watchdog that SIGKILLs <paramref name="child"/> once process <paramref name="parentPid"/> is gone.</summary>
    public static void KillWith(Process child, int parentPid)
    {
        var psi = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            // Its own pipes, never the test host's: a watchdog outliving the test host must not hold the runner's output open.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "-c", Watchdog, "watchdog",
                     parentPid.ToString(CultureInfo.InvariantCulture), child.Id.ToString(CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(arg);
        using var watchdog = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the child-process watchdog (/bin/sh)");
    }
}
