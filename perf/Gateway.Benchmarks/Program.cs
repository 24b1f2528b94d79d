using BenchmarkDotNet.Running;

namespace Gateway.Benchmarks;

public static class Program
{
    // dotnet run -c Release --project perf/Gateway.Benchmarks -- --filter '*' [--job short]
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
