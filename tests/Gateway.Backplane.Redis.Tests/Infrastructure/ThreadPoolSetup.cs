using System.Runtime.CompilerServices;

namespace Gateway.Backplane.Redis.Tests.Infrastructure;

/// <summary>
/// One test process hosts several gateway nodes, their Redis clients, the test clients and synchronous set-up work
/// (plugin folders copied and loaded). With the thread pool's default minimum (one thread per core, 2 here) that work
/// starved the backplanes' heartbeat timers: ticks 0.6 to 1.9 s late were seen on a loaded 2-core machine, longer
/// than a 200 ms heartbeat's presence lifetime (600 ms), so live nodes were taken for dead. A production node is one
/// process with a 5 s heartbeat; here the pool starts with enough threads that no tick waits for one.
/// </summary>
internal static class ThreadPoolSetup
{
    [ModuleInitializer]
    internal static void Init()
    {
        ThreadPool.GetMinThreads(out int worker, out int io);
        ThreadPool.SetMinThreads(Math.Max(worker, 32), Math.Max(io, 32));
    }
}
