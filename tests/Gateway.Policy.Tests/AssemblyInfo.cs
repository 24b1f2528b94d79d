using System.Runtime.CompilerServices;

// These tests measure timeouts (tens of milliseconds), process memory and throughput on real sockets: running
// them one at a time keeps those measurements about one test, and lets [Fact(Timeout = …)] be enforced.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Gateway.Policy.Tests;

internal static class TestHostSetup
{
    /// <summary>
    /// On a 2-core machine the thread pool starts with 2 worker threads, and the test host (VSTest + the xUnit
    /// runner) keeps some of them blocked in synchronous waits. The gateway's heartbeat, send loops and handler
    /// continuations then queue behind them until the pool injects a thread (~0.5 s per thread): measured here,
    /// keep-alive pings stopped for ~0.5 s and a 500 ms client timeout fired after ~1.2 s. The same server in a
    /// plain console process with the same 2 threads pings every 100 ms and times out at 500 ms, so this is the
    /// test host, not the server. Give the pool enough threads up front.
    /// </summary>
    [ModuleInitializer]
    internal static void RaiseThreadPoolMinimum()
    {
        ThreadPool.GetMinThreads(out int worker, out int io);
        ThreadPool.SetMinThreads(Math.Max(worker, 16), Math.Max(io, 16));
    }
}
