namespace Minnow.Tensors.Kernels;

/// <summary>
/// Runs every kernel once on tiny inputs, so the JIT compiles them before the first real token instead of during it.
/// The kernels are marked AggressiveOptimization, so this one call already produces their final code; without it
/// the first decoded token of a fresh process pays for compiling each kernel it meets for the first time.
/// Costs a few tens of milliseconds of JIT time once per process (and SIMD path).
/// </summary>
public static class WarmUp
{
    private static readonly bool[] Done = new bool[Enum.GetValues<SimdWidth>().Length];
    private static readonly object Gate = new();
    private static readonly HashSet<(DType, QuantizedPath)> QuantizedDone = [];

    /// <summary>
    /// Compiles the quantized kernels of <paramref name="types"/> on the active quantized path, once per process: a
    /// 17-row matrix of each type (one tile on the repacked copy's kernels, one row on the rows' own), one token and
    /// five, alone and in a fused section. Without it a quantized model's first prompt paid for compiling them.
    /// </summary>
    public static void Quantized(IEnumerable<DType> types, WorkerPool pool)
    {
        var path = QuantizedSimd.Active;
        foreach (var type in types)
        {
            if (!QuantizedMatMul.Supports(type))
                continue;
            lock (Gate)
                if (!QuantizedDone.Add((type, path)))
                    continue;
            int columns = 8 * type.BlockSize(), rows = QuantizedMatMul.RowTile + 1;
            var w = Tensor.Allocate("warm-up", type, rows, columns);
            var x = new float[5 * columns];
            var y0 = new float[5 * rows];
            var y1 = new float[5 * rows];
            foreach (int tokens in new[] { 1, 5 })
            {
                MatMul.Compute(w, x, y0, tokens, pool);
                MatMul.Compute(x, tokens, pool, w, y0, w, y1);
            }
        }
    }

    /// <summary>Compiles the kernels of the active SIMD path, once per process; <paramref name="pool"/> runs them as a model would.</summary>
    public static unsafe void Kernels(WorkerPool pool)
    {
        var width = Simd.Active;
        lock (Gate)
        {
            if (Done[(int)width])
                return;
            Done[(int)width] = true;
        }
        const int inDim = 40, outDim = 9;
        var w = Tensor.Zeros("warm-up", outDim, inDim);
        var x = new float[40 * inDim];
        var y0 = new float[40 * outDim];
        var y1 = new float[40 * outDim];
        var y2 = new float[40 * outDim];
        foreach (int tokens in new[] { 1, 5, 9, 33 })
        {
            MatMul.Compute(w, x, y0, tokens, pool);
            MatMul.Compute(x, tokens, pool, w, y0, w, y1);
            MatMul.Compute(x, tokens, pool, w, y0, w, y1, w, y2);
        }

        const int heads = 2, headDim = 32, tokensInCache = 5;
        var queries = new float[tokensInCache * heads * headDim];
        var cache = new float[tokensInCache * heads * headDim];
        var output = new float[tokensInCache * heads * headDim];
        fixed (float* q = queries, kv = cache, o = output)
        {
            foreach (int tokens in new[] { 1, tokensInCache })
                Attention.Compute(new AttentionInputs
                {
                    Queries = q, Keys = kv, Values = kv, Output = o, Tokens = tokens, StartPosition = tokensInCache - tokens, Capacity = tokensInCache,
                    Heads = heads, KvHeads = heads, HeadDim = headDim, Scale = 1f,
                }, pool);
        }

        var row = new float[inDim];
        var ones = new float[inDim];
        Array.Fill(ones, 1f);
        Ops.RmsNorm(row, ones, 1e-5f, row);
        Ops.Softmax(row);
        Ops.SwiGlu(row, ones);
        Ops.Add(row, ones);
        Ops.Rope(row, ones.AsSpan(0, inDim / 2), ones.AsSpan(0, inDim / 2), interleaved: true);
        Ops.Rope(row, ones.AsSpan(0, inDim / 2), ones.AsSpan(0, inDim / 2), interleaved: false);
    }
}
