using BenchmarkDotNet.Attributes;
using Minnow.Generation;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Benchmarks;

/// <summary>BenchmarkDotNet micro-benchmarks of the fp32 kernels at 110M-model shapes (dim 768, hidden 2048).</summary>
[MemoryDiagnoser]
public class KernelBenchmarks
{
    private Tensor _w = null!;
    private float[] _x = null!, _y = null!, _row = null!, _norm = null!;
    private WorkerPool _pool = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(1);
        _w = Tensor.Zeros("w", 2048, 768);
        var w = _w.AsFloats();
        for (int i = 0; i < w.Length; i++) w[i] = rng.NextGaussian();
        _x = new float[128 * 768];
        for (int i = 0; i < _x.Length; i++) _x[i] = rng.NextGaussian();
        _y = new float[128 * 2048];
        _row = new float[768];
        _norm = new float[768];
        Array.Fill(_norm, 1f);
        _pool = new WorkerPool(Threads);
    }

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark(Description = "matvec 2048x768")]
    public void MatVec() => MatMul.Compute(_w, _x.AsSpan(0, 768), _y, 1, _pool);

    [Benchmark(Description = "matmul 128 tokens x 2048x768")]
    public void MatMul128() => MatMul.Compute(_w, _x, _y, 128, _pool);

    [Benchmark(Description = "rmsnorm 768")]
    public void RmsNorm() => Ops.RmsNorm(_x.AsSpan(0, 768), _norm, 1e-5f, _row);

    [Benchmark(Description = "softmax 2048")]
    public void Softmax() => Ops.Softmax(_y.AsSpan(0, 2048));
}
