using BenchmarkDotNet.Attributes;
using Minnow.Generation;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Benchmarks;

/// <summary>
/// BenchmarkDotNet micro-benchmarks of the fp32 kernels at 110M-model shapes (dim 768, hidden 2048, 12 heads of 64,
/// vocab 32000). The 2048×768 matrix (6 MB) stays in L3 between calls; the 32000×768 classifier (98 MB) cannot, so
/// its matvec is bound by memory bandwidth as every decode step is.
/// </summary>
[MemoryDiagnoser]
public unsafe class KernelBenchmarks
{
    private Tensor _w = null!, _classifier = null!;
    private float[] _x = null!, _y = null!, _logits = null!, _row = null!, _norm = null!;
    private float[] _queries = null!, _keys = null!, _values = null!, _attention = null!;
    private WorkerPool _pool = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(1);
        _w = Random(rng, 2048, 768);
        _classifier = Random(rng, 32000, 768);
        _x = RandomArray(rng, 128 * 768);
        _y = new float[128 * 2048];
        _logits = new float[32000];
        _row = new float[768];
        _norm = new float[768];
        Array.Fill(_norm, 1f);
        _queries = GC.AllocateArray<float>(768, pinned: true);
        _keys = GC.AllocateArray<float>(256 * 768, pinned: true);
        _values = GC.AllocateArray<float>(256 * 768, pinned: true);
        _attention = GC.AllocateArray<float>(768, pinned: true);
        RandomArray(rng, 768).CopyTo(_queries, 0);
        RandomArray(rng, 256 * 768).CopyTo(_keys, 0);
        RandomArray(rng, 256 * 768).CopyTo(_values, 0);
        _pool = new WorkerPool(Threads);
    }

    private static Tensor Random(Rng rng, int rows, int columns)
    {
        var t = Tensor.Zeros("w", rows, columns);
        var span = t.AsFloats();
        for (int i = 0; i < span.Length; i++) span[i] = rng.NextGaussian() * 0.02f;
        return t;
    }

    private static float[] RandomArray(Rng rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = rng.NextGaussian();
        return a;
    }

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark(Description = "matvec 2048x768 (in L3)")]
    public void MatVec() => MatMul.Compute(_w, _x.AsSpan(0, 768), _y, 1, _pool);

    [Benchmark(Description = "matvec 32000x768 (98 MB, from memory)")]
    public void MatVecClassifier() => MatMul.Compute(_classifier, _x.AsSpan(0, 768), _logits, 1, _pool);

    [Benchmark(Description = "gemm 128 tokens x 2048x768")]
    public void Gemm128() => MatMul.Compute(_w, _x, _y, 128, _pool);

    [Benchmark(Description = "attention decode, 12 heads x 64, 256 cached")]
    public void AttentionDecode()
    {
        fixed (float* q = _queries, k = _keys, v = _values, o = _attention)
            Attention.Compute(new AttentionInputs
            {
                Queries = q, Keys = k, Values = v, Output = o, Tokens = 1, StartPosition = 255, Capacity = 256,
                Heads = 12, KvHeads = 12, HeadDim = 64, Scale = 0.125f,
            }, _pool);
    }

    [Benchmark(Description = "rmsnorm 768")]
    public void RmsNorm() => Ops.RmsNorm(_x.AsSpan(0, 768), _norm, 1e-5f, _row);

    [Benchmark(Description = "softmax 2048")]
    public void Softmax() => Ops.Softmax(_y.AsSpan(0, 2048));
}
