using System.Runtime.InteropServices;

namespace Gateway.Server.Transport;

/// <summary>
/// The process's file descriptor budget (RLIMIT_NOFILE) and the default connection limit derived from it.
/// Every connection costs one descriptor, but so does every assembly the runtime maps, every log file,
/// every Redis socket: a server that accepts until the kernel says EMFILE starves the runtime itself
/// (it then fails to load code or create pipes and aborts), so the limit leaves room for them.
/// </summary>
internal static partial class DescriptorLimit
{
    /// <summary>Descriptors kept free beyond those open at start: assemblies loaded later, log files, Redis, DNS, /proc reads.</summary>
    public const int Headroom = 128;

    /// <summary>The smallest limit the formula gives, however tight the descriptor budget (the back-off handles the rest).</summary>
    public const int Minimum = 16;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    /// <summary>
    /// The soft RLIMIT_NOFILE, or null when it cannot be read (Windows) or is unlimited. The .NET runtime
    /// already raises the soft limit to the hard limit when it starts (CoreCLR's PAL does it on Linux), so
    /// this is the most the process can get; the gateway does not change it.
    /// </summary>
    public static long? SoftLimit()
    {
        int resource;
        if (OperatingSystem.IsLinux()) resource = 7;                       // RLIMIT_NOFILE on x64, arm64, arm
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD()) resource = 8;
        else return null;
        try
        {
            if (GetRLimit(resource, out var limit) != 0) return null;
            return limit.Current >= long.MaxValue ? null : (long)limit.Current;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Descriptors open right now (entries of /proc/self/fd), or null where that cannot be counted.</summary>
    public static int? OpenNow()
    {
        try
        {
            if (!Directory.Exists("/proc/self/fd")) return null;
            // The enumeration itself holds one descriptor: not counted.
            return Math.Max(0, Directory.EnumerateFileSystemEntries("/proc/self/fd").Count() - 1);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Connections the process can hold without running out: soft limit − descriptors open now − <see cref="Headroom"/> −
    /// the reserve, at least <see cref="Minimum"/>; null (no bound) when the descriptor limit is unknown or unlimited.
    /// Accepting pauses here even when <c>Limits:MaxConnections</c> is set higher: a connection accepted into the
    /// last free descriptor leaves the runtime none, and it aborts the process the next time it needs one.
    /// </summary>
    public static int? ConnectionBudget(long? softLimit, int? openNow, int reserve)
    {
        if (softLimit is not { } soft) return null;
        return (int)Math.Clamp(soft - (openNow ?? 0) - Headroom - reserve, Minimum, 20_000_000);
    }
}
