using BenchmarkDotNet.Attributes;
using Minnow.Compression.Quantization;
using Minnow.Generation;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Benchmarks;

/// <summary>
/// BenchmarkDotNet micro-benchmarks of the quantized kernels at 110M-model shapes (a 2048×768 weight, as the
/// feed-forward gate and up projections), per block type and kernel path, with the fp32 kernel as the baseline
/// (<c>--filter *Quantized*</c>). The matrix fits the caches, so these time the arithmetic; `quant-matvec` and
/// `quant-decode` measure streaming from memory.
/// </summary>
[MemoryDiagnoser]
public class QuantizedKernelBenchmarks
{
    private Tensor _w = null!;
    private float[] _x = null!, _y = null!;
    private WorkerPool _pool = null!;
    private QuantizedPath _saved;

    [Params(DType.F32, DType.Q8_0, DType.Q4_0, DType.Q5_0, DType.Q4_K, DType.Q6_K)]
    public DType Type { get; set; }

    [Params(QuantizedPath.Portable, QuantizedPath.Avx2, QuantizedPath.Avx512)]
    public QuantizedPath Path { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(1);
        var w = new float[2048 * 768];
        for (int i = 0; i < w.Length; i++) w[i] = rng.NextGaussian();
        _w = Quantizer.Quantize(Tensor.FromFloats("w", w, 2048, 768), Type);
        _x = new float[128 * 768];
        for (int i = 0; i < _x.Length; i++) _x[i] = rng.NextGaussian();
        _y = new float[128 * 2048];
        _pool = new WorkerPool(1);
        _saved = QuantizedSimd.Active;
        if (QuantizedSimd.IsSupported(Path))
            QuantizedSimd.Active = Path;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        QuantizedSimd.Active = _saved;
        _pool.Dispose();
    }

    [Benchmark(Description = "matvec 2048x768")]
    public void MatVec() => MatMul.Compute(_w, _x.AsSpan(0, 768), _y, 1, _pool);

    [Benchmark(Description = "matmul 128 tokens x 2048x768")]
    public void MatMul128() => MatMul.Compute(_w, _x, _y, 128, _pool);
}
