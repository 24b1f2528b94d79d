using System.Globalization;

namespace Gateway.LoadTest.Core;

/// <summary>Reads another process's memory and CPU from /proc (Linux).</summary>
public static class ProcessProbe
{
    /// <summary>USER_HZ: the unit of utime/stime in /proc/PID/stat; 100 on every mainstream Linux build.</summary>
    private const double ClockTicksPerSecond = 100;

    /// <summary>VmRSS of the process in KiB, or null when it cannot be read.</summary>
    public static long? ReadRssKb(int pid) => ReadStatusKb(pid, "VmRSS:");

    public static long? ReadStatusKb(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith(field, StringComparison.Ordinal)) continue;
                var parts = line[field.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[0], CultureInfo.InvariantCulture);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException) { }
        return null;
    }

    /// <summary>User + system CPU time the process has used, or null.</summary>
    public static TimeSpan? ReadCpuTime(int pid) => ReadCpuTimes(pid) is { } t ? t.User + t.System : null;

    /// <summary>User and system (kernel) CPU time the process has used, or null.</summary>
    public static (TimeSpan User, TimeSpan System)? ReadCpuTimes(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name may contain spaces and parentheses: fields start after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
            long utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
            long stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
            return (TimeSpan.FromSeconds(utime / ClockTicksPerSecond), TimeSpan.FromSeconds(stime / ClockTicksPerSecond));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException) { }
        return null;
    }

    /// <summary>
    /// The whole machine's CPU from the first line of /proc/stat, in clock ticks: busy (everything but idle and
    /// iowait) and total, and how many CPUs the kernel counts (the cpuN lines). Null when it cannot be read.
    /// </summary>
    public static (long Busy, long Total, int Cpus)? ReadMachineCpu()
    {
        try
        {
            long busy = 0, total = 0;
            int cpus = 0;
            foreach (var line in File.ReadLines("/proc/stat"))
            {
                if (line.StartsWith("cpu ", StringComparison.Ordinal))
                {
                    var f = line[4..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    // user nice system idle iowait irq softirq steal (guest time is already inside user).
                    for (int i = 0; i < Math.Min(f.Length, 8); i++)
                    {
                        long v = long.Parse(f[i], CultureInfo.InvariantCulture);
                        total += v;
                        if (i != 3 && i != 4) busy += v;
                    }
                }
                else if (line.StartsWith("cpu", StringComparison.Ordinal)) cpus++;
                else break;
            }
            return total > 0 ? (busy, total, Math.Max(1, cpus)) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException) { return null; }
    }

    public static bool Exists(int pid) => File.Exists($"/proc/{pid}/status");

    public static string? CommandLine(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim(); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>The soft and hard "Max open files" of a process, from /proc/PID/limits.</summary>
    public static (long Soft, long Hard)? OpenFilesLimit(string pid = "self")
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/limits"))
            {
                if (!line.StartsWith("Max open files", StringComparison.Ordinal)) continue;
                var parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                static long P(string s) => s == "unlimited" ? long.MaxValue : long.Parse(s, CultureInfo.InvariantCulture);
                return (P(parts[0]), P(parts[1]));
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException) { }
        return null;
    }

    /// <summary>Open file descriptors of this process right now.</summary>
    public static int? OpenFileCount()
    {
        try { return Directory.GetFiles("/proc/self/fd").Length; }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>net.ipv4.ip_local_port_range: how many ephemeral ports one source address has.</summary>
    public static int EphemeralPortCount()
    {
        try
        {
            var parts = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(parts[1], CultureInfo.InvariantCulture) - int.Parse(parts[0], CultureInfo.InvariantCulture) + 1;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException) { return 28232; }
    }
}
