using System.Diagnostics;
using Minnow.Generation;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Benchmarks;

/// <summary>GFLOP/s of <see cref="MatMul"/> on the shapes, next to the FMA peak measured in the same run.</summary>
public static class GemmThroughput
{
    public static int Run(string[] args)
    {
        int maxThreads = args.Length > 0 ? int.Parse(args[0]) : Environment.ProcessorCount;
        (int M, int N, int K)[] shapes = [(1024, 1024, 1024), (512, 3072, 768), (128, 768, 768), (128, 2048, 768)];
        for (int threads = 1; threads <= maxThreads; threads++)
        {
            double peak = MachineLimits.FmaPeakGflops(threads);
            using var pool = new WorkerPool(threads);
            foreach (var (m, n, k) in shapes)
            {
                double gflops = Measure(m, n, k, pool);
                Console.WriteLine($"gemm M={m} N={n} K={k} threads={threads}: {gflops:F1} GFLOP/s = {gflops / peak:P1} of FMA peak {peak:F1}");
            }
        }
        return 0;
    }

    /// <summary>Median of 7 timed runs after warm-up. M = tokens, N = output features, K = input features.</summary>
    public static double Measure(int m, int n, int k, WorkerPool pool)
    {
        var rng = new Rng(1);
        var w = Tensor.Zeros("w", n, k);
        RandomWeights(w.AsFloats(), rng);
        var x = new float[m * k];
        RandomWeights(x, rng);
        var y = new float[m * n];
        for (int i = 0; i < 2; i++)
            MatMul.Compute(w, x, y, m, pool);
        var times = new double[7];
        for (int i = 0; i < times.Length; i++)
        {
            var clock = Stopwatch.StartNew();
            MatMul.Compute(w, x, y, m, pool);
            times[i] = clock.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return 2.0 * m * n * k / times[times.Length / 2] / 1e9;
    }

    private static void RandomWeights(Span<float> values, Rng rng)
    {
        for (int i = 0; i < values.Length; i++) values[i] = rng.NextGaussian() * 0.02f;
    }
}
