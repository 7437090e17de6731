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
            var (pool, parallel) = PoolBenchmarks.DispatchMicroseconds();
            Console.WriteLine($"dispatch cost with 2 threads (sections of 2 x 5 us items, time beyond 5 us; median and best of 21 batches of 2000): " +
                $"WorkerPool.For {pool.Median:F2} / {pool.Best:F2} us, Parallel.For {parallel.Median:F2} / {parallel.Best:F2} us");
        }
        return 0;
    }
}
