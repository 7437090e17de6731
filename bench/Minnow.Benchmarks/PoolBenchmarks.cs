using BenchmarkDotNet.Attributes;
using Minnow.Tensors.Kernels;

namespace Minnow.Benchmarks;

/// <summary>
/// The cost of one parallel section with 2 threads and no work: <see cref="WorkerPool.For"/> against
/// <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/>. A decode step of the 110M model runs ~60 sections.
/// </summary>
public class PoolBenchmarks
{
    private WorkerPool _pool = null!;
    private readonly ParallelOptions _options = new() { MaxDegreeOfParallelism = 2 };
    private static readonly RangeAction Nothing = (_, _) => { };
    private static readonly Action<int> NothingAt = _ => { };

    [GlobalSetup]
    public void Setup() => _pool = new WorkerPool(2);

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark(Baseline = true, Description = "Parallel.For, 2 threads")]
    public void ParallelFor() => Parallel.For(0, 2, _options, NothingAt);

    [Benchmark(Description = "WorkerPool.For, 2 threads")]
    public void PoolFor() => _pool.For(2, Nothing);
}
