using System.Diagnostics;
using Minnow.Generation;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Benchmarks;

/// <summary>
/// GFLOP/s of <see cref="MatMul"/> on the shapes as a fraction of the FMA peak measured in the same run
/// (M = tokens, N = output features, K = input features; W is [N, K] as stored in model files). Each shape runs on
/// weights in pinned memory (warm: median of 7 calls) and on weights memory-mapped from a freshly written file
/// (cold: the first call after mapping, which also takes the page faults, then the median of the next 7).
/// </summary>
public static class GemmThroughput
{
    public static readonly (int M, int N, int K)[] Shapes = [(1024, 1024, 1024), (512, 3072, 768), (128, 2304, 768), (128, 768, 2048)];

    public static int Run(string[] args)
    {
        int maxThreads = args.Length > 0 ? int.Parse(args[0]) : Environment.ProcessorCount;
        for (int threads = 1; threads <= maxThreads; threads++)
        {
            using var pool = new WorkerPool(threads);
            foreach (var (m, n, k) in Shapes)
            {
                double peak = MachineLimits.FmaPeakGflops(threads);
                double warm = Measure(m, n, k, pool);
                var (first, mapped) = MeasureMapped(m, n, k, pool);
                Console.WriteLine($"gemm M={m} N={n} K={k} threads={threads}: {warm:F1} GFLOP/s = {warm / peak:P1} of FMA peak {peak:F1}; " +
                    $"memory-mapped: first call {first:F1} GFLOP/s, then {mapped:F1} = {mapped / peak:P1}");
            }
        }
        return 0;
    }

    /// <summary>GFLOP/s: median of 7 timed calls after 2 warm-up calls, weights in pinned memory.</summary>
    public static double Measure(int m, int n, int k, WorkerPool pool)
    {
        var rng = new Rng(1);
        var w = Tensor.Zeros("w", n, k);
        Fill(w.AsFloats(), rng);
        return Time(w, m, k, pool, warmUp: 2).Median;
    }

    /// <summary>The first call on freshly memory-mapped weights, then the median of 7 more.</summary>
    public static (double First, double Median) MeasureMapped(int m, int n, int k, WorkerPool pool)
    {
        string path = Path.Combine(Path.GetTempPath(), $"minnow-gemm-{Environment.ProcessId}.bin");
        try
        {
            var values = new float[(long)n * k];
            Fill(values, new Rng(2));
            using (var file = File.Create(path))
                file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            using var map = new MappedFile(path);
            var w = Tensor.View("w", DType.F32, [n, k], map, 0);
            return Time(w, m, k, pool, warmUp: 0);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static (double First, double Median) Time(Tensor w, int m, int k, WorkerPool pool, int warmUp)
    {
        int n = w.Rows;
        var x = new float[m * k];
        Fill(x, new Rng(3));
        var y = new float[m * n];
        for (int i = 0; i < warmUp; i++)
            MatMul.Compute(w, x, y, m, pool);
        var times = new double[8];
        for (int i = 0; i < times.Length; i++)
        {
            var clock = Stopwatch.StartNew();
            MatMul.Compute(w, x, y, m, pool);
            times[i] = clock.Elapsed.TotalSeconds;
        }
        double flops = 2.0 * m * n * k / 1e9;
        double first = flops / times[0];
        var rest = times[1..];
        Array.Sort(rest);
        return (first, flops / rest[rest.Length / 2]);
    }

    private static void Fill(Span<float> values, Rng rng)
    {
        for (int i = 0; i < values.Length; i++) values[i] = rng.NextGaussian() * 0.02f;
    }
}
