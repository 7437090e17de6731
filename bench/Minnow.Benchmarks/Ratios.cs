using System.Diagnostics;
using Minnow.Evaluation;
using Minnow.Models;
using Minnow.Tensors.Kernels;

namespace Minnow.Benchmarks;

/// <summary>
/// Every ratio issue 3 asks for, measured in one run, for 1 and 2 threads: the machine limits (FMA peak, read
/// bandwidth), GEMM GFLOP/s on the target shapes as a share of the FMA peak, each model's prefill and decode speed
/// (decode as weight bytes per second against the read bandwidth), and the pool's dispatch cost against Parallel.For.
/// The first decoded token of a fresh process is measured by `minnow bench`, not here (this process is already warm).
/// </summary>
public static class Ratios
{
    public static int Run(string[] args)
    {
        var models = args.Where(File.Exists).ToArray();
        int maxThreads = Math.Min(2, Environment.ProcessorCount);
        for (int threads = 1; threads <= maxThreads; threads++)
        {
            double fma = MachineLimits.FmaPeakGflops(threads);
            double bandwidth = MachineLimits.ReadBandwidthGBps(threads);
            Console.WriteLine($"threads={threads}: FMA peak {fma:F1} GFLOP/s, read bandwidth {bandwidth:F2} GB/s");
            using (var pool = new WorkerPool(threads))
                foreach (var (m, n, k) in GemmThroughput.Shapes[..2])
                {
                    double gflops = GemmThroughput.Measure(m, n, k, pool);
                    Console.WriteLine($"  gemm M={m} N={n} K={k}: {gflops:F1} GFLOP/s = {gflops / fma:P1} of the FMA peak");
                }
            foreach (var path in models)
            {
                using var loaded = ModelLoader.Load(path, new ModelLoadOptions { Threads = threads });
                var r = SpeedBenchmark.Run(loaded.Model, threads, 128, 128, 5);
                double gbps = r.WeightBytes * r.DecodeTokensPerSecond / 1e9;
                Console.WriteLine($"  {Path.GetFileName(path)}: prefill {r.PrefillTokensPerSecond:F1} tok/s, decode {r.DecodeTokensPerSecond:F1} tok/s " +
                    $"= {gbps:F2} GB/s of weights = {gbps / bandwidth:P1} of the read bandwidth; prefill {r.PrefillTokensPerSecond / r.DecodeTokensPerSecond:F1}x decode per token");
            }
        }
        if (maxThreads >= 2)
        {
            var (pool, parallel) = DispatchNanoseconds();
            Console.WriteLine($"dispatch with 2 threads (median of 21 x 20,000 empty sections): WorkerPool.For {pool:F0} ns, Parallel.For {parallel:F0} ns");
        }
        return 0;
    }

    /// <summary>A quick version of <see cref="PoolBenchmarks"/> (BenchmarkDotNet is the rigorous one).</summary>
    public static (double Pool, double ParallelFor) DispatchNanoseconds()
    {
        using var pool = new WorkerPool(2);
        var options = new ParallelOptions { MaxDegreeOfParallelism = 2 };
        RangeAction nothing = (_, _) => { };
        Action<int> nothingAt = _ => { };
        double Median(Action section)
        {
            const int calls = 20_000;
            var samples = new double[21];
            for (int s = 0; s < samples.Length; s++)
            {
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < calls; i++) section();
                samples[s] = clock.Elapsed.TotalSeconds * 1e9 / calls;
            }
            Array.Sort(samples);
            return samples[samples.Length / 2];
        }
        return (Median(() => pool.For(2, nothing)), Median(() => Parallel.For(0, 2, options, nothingAt)));
    }
}
