using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Minnow.Tensors.Kernels;

namespace Minnow.Benchmarks;

/// <summary>
/// The cost of one parallel section with 2 threads: <see cref="WorkerPool.For"/> against
/// <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/>, each running 2 items of 5 µs of work (an empty
/// section says little: the pool's caller takes the worker's item before the worker has even looked). The ideal is
/// 5 µs (both items at once); the excess is the dispatch cost. A decode step of the 110M model runs ~50 sections.
/// </summary>
public class PoolBenchmarks
{
    private WorkerPool _pool = null!;
    private readonly ParallelOptions _options = new() { MaxDegreeOfParallelism = 2 };
    private static readonly long WorkTicks = Stopwatch.Frequency * 5 / 1_000_000;
    private static readonly RangeAction Items = (start, end) => { for (int i = start; i < end; i++) Work(); };
    private static readonly Action<int> Item = _ => Work();

    /// <summary>Busy for 5 µs of wall time.</summary>
    public static void Work()
    {
        long until = Stopwatch.GetTimestamp() + WorkTicks;
        while (Stopwatch.GetTimestamp() < until) { }
    }

    [GlobalSetup]
    public void Setup() => _pool = new WorkerPool(2);

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark(Description = "one item on the calling thread (the 5 us floor)")]
    public void Alone() => Work();

    [Benchmark(Baseline = true, Description = "Parallel.For, 2 threads, 2 items")]
    public void ParallelFor() => Parallel.For(0, 2, _options, Item);

    [Benchmark(Description = "WorkerPool.For, 2 threads, 2 items")]
    public void PoolFor() => _pool.For(2, Items);

    /// <summary>
    /// Microseconds per section beyond the 5 µs of work, (median, best) of 21 batches of 2000 sections, for the pool
    /// and for Parallel.For. The best batch is the machine without interference from other processes.
    /// </summary>
    public static ((double Median, double Best) Pool, (double Median, double Best) ParallelFor) DispatchMicroseconds()
    {
        using var pool = new WorkerPool(2);
        var options = new ParallelOptions { MaxDegreeOfParallelism = 2 };
        (double, double) Measure(Action section)
        {
            const int calls = 2000;
            var samples = new double[21];
            for (int s = 0; s < samples.Length; s++)
            {
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < calls; i++) section();
                samples[s] = clock.Elapsed.TotalSeconds * 1e6 / calls - 5;
            }
            Array.Sort(samples);
            return (samples[samples.Length / 2], samples[0]);
        }
        return (Measure(() => pool.For(2, Items)), Measure(() => Parallel.For(0, 2, options, Item)));
    }
}
