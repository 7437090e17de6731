using System.Numerics;
using System.Runtime.Intrinsics;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// y = x·Wᵀ for a weight matrix W [out, in] (PyTorch's Linear layout) and activations x [tokens, in], giving
/// y [tokens, out]. One token is a matrix-vector product (decode); several are a matrix product (prompt
/// processing, training). Work is split across the pool by output rows, so each thread streams its own
/// slice of W exactly once.
/// </summary>
public static unsafe class MatMul
{
    private const int RowTile = 4;
    private const int TokenTile = 4;

    /// <summary>Below this many tokens the packed GEMM's packing costs more than it saves.</summary>
    private const int PackedMinTokens = 8;

    /// <summary>y[t, o] = Σᵢ x[t, i]·W[o, i] for t &lt; tokens.</summary>
    public static void Compute(Tensor w, ReadOnlySpan<float> x, Span<float> y, int tokens, WorkerPool pool)
    {
        int outDim = w.Rows, inDim = w.Columns;
        if (x.Length < (long)tokens * inDim || y.Length < (long)tokens * outDim)
            throw new ArgumentException($"matmul with '{w.Name}' [{outDim}, {inDim}]: buffers too small for {tokens} tokens");
        if (w.DType != DType.F32)
            throw new NotSupportedException($"matmul with '{w.Name}': {w.DType} weights are not supported by this kernel");

        fixed (float* px = x, py = y)
        {
            if (tokens >= PackedMinTokens && Simd.Active == SimdWidth.Vector512)
            {
                RunPacked((float*)w.Data, px, py, tokens, outDim, inDim, pool);
                return;
            }
            var job = new Job((float*)w.Data, px, py, inDim, outDim, tokens);
            int tiles = (outDim + RowTile - 1) / RowTile;
            pool.For(tiles, job.Run);
        }
    }

    /// <summary>The scalar twin of <see cref="Compute"/>.</summary>
    public static void Scalar(Tensor w, ReadOnlySpan<float> x, Span<float> y, int tokens)
    {
        int outDim = w.Rows, inDim = w.Columns;
        var wf = w.AsFloats();
        for (int t = 0; t < tokens; t++)
            for (int o = 0; o < outDim; o++)
            {
                float sum = 0;
                for (int i = 0; i < inDim; i++)
                    sum += x[t * inDim + i] * wf[o * inDim + i];
                y[t * outDim + o] = sum;
            }
    }

    [ThreadStatic] private static float[]? _packedActivations;

    private static void RunPacked(float* w, float* x, float* y, int m, int n, int k, WorkerPool pool)
    {
        long length = PackedGemm.PackedLength(m, k);
        if (_packedActivations is null || _packedActivations.Length < length)
            _packedActivations = GC.AllocateUninitializedArray<float>(checked((int)length), pinned: true);
        fixed (float* packed = _packedActivations)
        {
            var job = new PackedJob(w, x, packed, y, m, n, k);
            pool.For((m + PackedGemm.NR - 1) / PackedGemm.NR, job.Pack);
            pool.For((n + PackedGemm.MR - 1) / PackedGemm.MR, job.Multiply);
        }
    }

    private sealed class PackedJob(float* w, float* x, float* packed, float* y, int m, int n, int k)
    {
        public void Pack(int start, int end) => PackedGemm.PackActivations(x, m, k, packed, start, end);
        public void Multiply(int start, int end) => PackedGemm.Run(w, packed, y, m, n, k, start, end);
    }

    private sealed class Job(float* w, float* x, float* y, int inDim, int outDim, int tokens)
    {
        public void Run(int tileStart, int tileEnd)
        {
            int rowStart = tileStart * RowTile;
            int rowEnd = Math.Min(tileEnd * RowTile, outDim);
            bool tiled = Simd.Active != SimdWidth.Scalar;
            int t = 0;
            if (tiled)
            {
                for (; t + TokenTile <= tokens; t += TokenTile)
                {
                    int o = rowStart;
                    for (; o + RowTile <= rowEnd; o += RowTile)
                        Tile4x4(o, t);
                    for (; o < rowEnd; o++)
                        for (int k = 0; k < TokenTile; k++)
                            y[(long)(t + k) * outDim + o] = Dot.Compute(w + (long)o * inDim, x + (long)(t + k) * inDim, inDim);
                }
            }
            for (; t < tokens; t++)
            {
                float* xt = x + (long)t * inDim;
                float* yt = y + (long)t * outDim;
                for (int o = rowStart; o < rowEnd; o++)
                    yt[o] = Dot.Compute(w + (long)o * inDim, xt, inDim);
            }
        }

        /// <summary>16 dot products at once: 4 weight rows × 4 tokens share every load.</summary>
        private void Tile4x4(int o, int t)
        {
            float* w0 = w + (long)o * inDim, w1 = w0 + inDim, w2 = w1 + inDim, w3 = w2 + inDim;
            float* x0 = x + (long)t * inDim, x1 = x0 + inDim, x2 = x1 + inDim, x3 = x2 + inDim;
            Span<float> r = stackalloc float[16];
            if (Simd.Active == SimdWidth.Vector512)
                Tile512(w0, w1, w2, w3, x0, x1, x2, x3, inDim, r);
            else
                TilePortable(w0, w1, w2, w3, x0, x1, x2, x3, inDim, r);
            for (int k = 0; k < 4; k++)
                for (int j = 0; j < 4; j++)
                    y[(long)(t + k) * outDim + o + j] = r[k * 4 + j];
        }
    }

    private static void Tile512(float* w0, float* w1, float* w2, float* w3, float* x0, float* x1, float* x2, float* x3, int n, Span<float> r)
    {
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        int i = 0;
        for (; i <= n - 16; i += 16)
        {
            var v0 = Vector512.Load(w0 + i);
            var v1 = Vector512.Load(w1 + i);
            var v2 = Vector512.Load(w2 + i);
            var v3 = Vector512.Load(w3 + i);
            var u = Vector512.Load(x0 + i);
            a00 = Vector512.FusedMultiplyAdd(v0, u, a00); a01 = Vector512.FusedMultiplyAdd(v1, u, a01);
            a02 = Vector512.FusedMultiplyAdd(v2, u, a02); a03 = Vector512.FusedMultiplyAdd(v3, u, a03);
            u = Vector512.Load(x1 + i);
            a10 = Vector512.FusedMultiplyAdd(v0, u, a10); a11 = Vector512.FusedMultiplyAdd(v1, u, a11);
            a12 = Vector512.FusedMultiplyAdd(v2, u, a12); a13 = Vector512.FusedMultiplyAdd(v3, u, a13);
            u = Vector512.Load(x2 + i);
            a20 = Vector512.FusedMultiplyAdd(v0, u, a20); a21 = Vector512.FusedMultiplyAdd(v1, u, a21);
            a22 = Vector512.FusedMultiplyAdd(v2, u, a22); a23 = Vector512.FusedMultiplyAdd(v3, u, a23);
            u = Vector512.Load(x3 + i);
            a30 = Vector512.FusedMultiplyAdd(v0, u, a30); a31 = Vector512.FusedMultiplyAdd(v1, u, a31);
            a32 = Vector512.FusedMultiplyAdd(v2, u, a32); a33 = Vector512.FusedMultiplyAdd(v3, u, a33);
        }
        r[0] = Vector512.Sum(a00); r[1] = Vector512.Sum(a01); r[2] = Vector512.Sum(a02); r[3] = Vector512.Sum(a03);
        r[4] = Vector512.Sum(a10); r[5] = Vector512.Sum(a11); r[6] = Vector512.Sum(a12); r[7] = Vector512.Sum(a13);
        r[8] = Vector512.Sum(a20); r[9] = Vector512.Sum(a21); r[10] = Vector512.Sum(a22); r[11] = Vector512.Sum(a23);
        r[12] = Vector512.Sum(a30); r[13] = Vector512.Sum(a31); r[14] = Vector512.Sum(a32); r[15] = Vector512.Sum(a33);
        AddTails(w0, w1, w2, w3, x0, x1, x2, x3, i, n, r);
    }

    private static void TilePortable(float* w0, float* w1, float* w2, float* w3, float* x0, float* x1, float* x2, float* x3, int n, Span<float> r)
    {
        Vector<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector<float> a30 = default, a31 = default, a32 = default, a33 = default;
        int width = Vector<float>.Count;
        int i = 0;
        for (; i <= n - width; i += width)
        {
            var v0 = Vector.Load(w0 + i);
            var v1 = Vector.Load(w1 + i);
            var v2 = Vector.Load(w2 + i);
            var v3 = Vector.Load(w3 + i);
            var u = Vector.Load(x0 + i);
            a00 = Vector.FusedMultiplyAdd(v0, u, a00); a01 = Vector.FusedMultiplyAdd(v1, u, a01);
            a02 = Vector.FusedMultiplyAdd(v2, u, a02); a03 = Vector.FusedMultiplyAdd(v3, u, a03);
            u = Vector.Load(x1 + i);
            a10 = Vector.FusedMultiplyAdd(v0, u, a10); a11 = Vector.FusedMultiplyAdd(v1, u, a11);
            a12 = Vector.FusedMultiplyAdd(v2, u, a12); a13 = Vector.FusedMultiplyAdd(v3, u, a13);
            u = Vector.Load(x2 + i);
            a20 = Vector.FusedMultiplyAdd(v0, u, a20); a21 = Vector.FusedMultiplyAdd(v1, u, a21);
            a22 = Vector.FusedMultiplyAdd(v2, u, a22); a23 = Vector.FusedMultiplyAdd(v3, u, a23);
            u = Vector.Load(x3 + i);
            a30 = Vector.FusedMultiplyAdd(v0, u, a30); a31 = Vector.FusedMultiplyAdd(v1, u, a31);
            a32 = Vector.FusedMultiplyAdd(v2, u, a32); a33 = Vector.FusedMultiplyAdd(v3, u, a33);
        }
        r[0] = Vector.Sum(a00); r[1] = Vector.Sum(a01); r[2] = Vector.Sum(a02); r[3] = Vector.Sum(a03);
        r[4] = Vector.Sum(a10); r[5] = Vector.Sum(a11); r[6] = Vector.Sum(a12); r[7] = Vector.Sum(a13);
        r[8] = Vector.Sum(a20); r[9] = Vector.Sum(a21); r[10] = Vector.Sum(a22); r[11] = Vector.Sum(a23);
        r[12] = Vector.Sum(a30); r[13] = Vector.Sum(a31); r[14] = Vector.Sum(a32); r[15] = Vector.Sum(a33);
        AddTails(w0, w1, w2, w3, x0, x1, x2, x3, i, n, r);
    }

    /// <summary>The elements past the last full vector.</summary>
    private static void AddTails(float* w0, float* w1, float* w2, float* w3, float* x0, float* x1, float* x2, float* x3, int i, int n, Span<float> r)
    {
        for (; i < n; i++)
        {
            float c0 = w0[i], c1 = w1[i], c2 = w2[i], c3 = w3[i];
            r[0] += c0 * x0[i]; r[1] += c1 * x0[i]; r[2] += c2 * x0[i]; r[3] += c3 * x0[i];
            r[4] += c0 * x1[i]; r[5] += c1 * x1[i]; r[6] += c2 * x1[i]; r[7] += c3 * x1[i];
            r[8] += c0 * x2[i]; r[9] += c1 * x2[i]; r[10] += c2 * x2[i]; r[11] += c3 * x2[i];
            r[12] += c0 * x3[i]; r[13] += c1 * x3[i]; r[14] += c2 * x3[i]; r[15] += c3 * x3[i];
        }
    }
}
