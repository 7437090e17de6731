using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Minnow.Benchmarks;

/// <summary>
/// Measures what the machine can do, so kernel speed is reported as a fraction of it:
/// FMA throughput (register-only, 12 independent accumulators, so latency never limits) and
/// read bandwidth (a vectorised sum over 1 GiB, best of 7 passes per run, median of 5 runs).
/// Threads are dedicated and released together by a barrier, so a slow thread-pool start-up is never timed.
/// </summary>
public static class MachineLimits
{
    public static int Run(string[] args)
    {
        int maxThreads = args.Length > 0 ? int.Parse(args[0]) : Environment.ProcessorCount;
        for (int threads = 1; threads <= maxThreads; threads++)
            Console.WriteLine($"fma_gflops threads={threads}: {FmaPeakGflops(threads):F1} (Vector512); {FmaPeakGflops(threads, wide: false):F1} (Vector256)");
        for (int threads = 1; threads <= maxThreads; threads++)
            Console.WriteLine($"read_gbps threads={threads}: {ReadBandwidthGBps(threads):F2}");
        return 0;
    }

    /// <summary>Median over 5 runs of the FMA loop on every thread at once, in GFLOP/s over all threads.</summary>
    public static double FmaPeakGflops(int threads, bool wide = true)
    {
        const long iterations = 20_000_000;
        int lanes = wide ? 16 : 8;
        FmaLoop(1000, wide);
        var runs = new double[5];
        for (int r = 0; r < runs.Length; r++)
        {
            double seconds = TimeOnThreads(threads, _ => FmaLoop(iterations, wide));
            // 12 accumulators × lanes × 2 flops per iteration per thread.
            runs[r] = iterations * 12.0 * lanes * 2 * threads / seconds / 1e9;
        }
        return Median(runs);
    }

    private static float FmaLoop(long iterations, bool wide) => wide ? FmaLoop512(iterations) : FmaLoop256(iterations);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaLoop512(long iterations)
    {
        var a = Vector512.Create(0.999f);
        var b = Vector512.Create(0.001f);
        Vector512<float> s0 = Vector512.Create(1f), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0, s8 = s0, s9 = s0, s10 = s0, s11 = s0;
        for (long i = 0; i < iterations; i++)
        {
            s0 = Vector512.FusedMultiplyAdd(s0, a, b); s1 = Vector512.FusedMultiplyAdd(s1, a, b);
            s2 = Vector512.FusedMultiplyAdd(s2, a, b); s3 = Vector512.FusedMultiplyAdd(s3, a, b);
            s4 = Vector512.FusedMultiplyAdd(s4, a, b); s5 = Vector512.FusedMultiplyAdd(s5, a, b);
            s6 = Vector512.FusedMultiplyAdd(s6, a, b); s7 = Vector512.FusedMultiplyAdd(s7, a, b);
            s8 = Vector512.FusedMultiplyAdd(s8, a, b); s9 = Vector512.FusedMultiplyAdd(s9, a, b);
            s10 = Vector512.FusedMultiplyAdd(s10, a, b); s11 = Vector512.FusedMultiplyAdd(s11, a, b);
        }
        return Vector512.Sum(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9 + s10 + s11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaLoop256(long iterations)
    {
        var a = Vector256.Create(0.999f);
        var b = Vector256.Create(0.001f);
        Vector256<float> s0 = Vector256.Create(1f), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0, s8 = s0, s9 = s0, s10 = s0, s11 = s0;
        for (long i = 0; i < iterations; i++)
        {
            s0 = Vector256.FusedMultiplyAdd(s0, a, b); s1 = Vector256.FusedMultiplyAdd(s1, a, b);
            s2 = Vector256.FusedMultiplyAdd(s2, a, b); s3 = Vector256.FusedMultiplyAdd(s3, a, b);
            s4 = Vector256.FusedMultiplyAdd(s4, a, b); s5 = Vector256.FusedMultiplyAdd(s5, a, b);
            s6 = Vector256.FusedMultiplyAdd(s6, a, b); s7 = Vector256.FusedMultiplyAdd(s7, a, b);
            s8 = Vector256.FusedMultiplyAdd(s8, a, b); s9 = Vector256.FusedMultiplyAdd(s9, a, b);
            s10 = Vector256.FusedMultiplyAdd(s10, a, b); s11 = Vector256.FusedMultiplyAdd(s11, a, b);
        }
        return Vector256.Sum(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9 + s10 + s11);
    }

    private static float[]? _array;

    /// <summary>GB/s reading a 1 GiB array with <paramref name="threads"/> threads (each sums its own slice): median of 5 runs of best-of-7 passes.</summary>
    public static double ReadBandwidthGBps(int threads)
    {
        _array ??= CreateArray();
        var array = _array;
        var runs = new double[5];
        for (int r = 0; r < runs.Length; r++)
        {
            double best = 0;
            for (int pass = 0; pass < 7; pass++)
            {
                double seconds = TimeOnThreads(threads, t =>
                {
                    long start = (long)array.Length * t / threads, end = (long)array.Length * (t + 1) / threads;
                    Sum(array, (int)start, (int)end);
                });
                best = Math.Max(best, array.Length * 4.0 / seconds / 1e9);
            }
            runs[r] = best;
        }
        return Median(runs);
    }

    /// <summary>One pass of the read-bandwidth test, GB/s.</summary>
    public static double ReadPassGBps(int threads)
    {
        _array ??= CreateArray();
        var array = _array;
        double seconds = TimeOnThreads(threads, t =>
        {
            long start = (long)array.Length * t / threads, end = (long)array.Length * (t + 1) / threads;
            Sum(array, (int)start, (int)end);
        });
        return array.Length * 4.0 / seconds / 1e9;
    }

    /// <summary>Seconds from releasing <paramref name="threads"/> dedicated threads (the caller is thread 0) until the last one finishes.</summary>
    public static double TimeOnThreads(int threads, Action<int> body)
    {
        using var start = new Barrier(threads);
        var workers = new Thread[threads - 1];
        for (int t = 1; t < threads; t++)
        {
            int index = t;
            workers[t - 1] = new Thread(() => { start.SignalAndWait(); body(index); });
            workers[t - 1].Start();
        }
        start.SignalAndWait();
        var clock = Stopwatch.StartNew();
        body(0);
        foreach (var w in workers) w.Join();
        return clock.Elapsed.TotalSeconds;
    }

    private static double Median(double[] values)
    {
        Array.Sort(values);
        return values[values.Length / 2];
    }

    private static float[] CreateArray()
    {
        var a = GC.AllocateUninitializedArray<float>(1 << 28, pinned: true);
        Parallel.For(0, 16, c => a.AsSpan(a.Length / 16 * c, a.Length / 16).Fill(1f));
        return a;
    }

    private static unsafe float Sum(float[] a, int start, int end)
    {
        fixed (float* p = a)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            int i = start;
            for (; i <= end - 64; i += 64)
            {
                s0 += Vector512.Load(p + i);
                s1 += Vector512.Load(p + i + 16);
                s2 += Vector512.Load(p + i + 32);
                s3 += Vector512.Load(p + i + 48);
            }
            float sum = Vector512.Sum(s0 + s1 + s2 + s3);
            for (; i < end; i++) sum += p[i];
            return sum;
        }
    }
}
