using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// The kernel behind <see cref="MatMul"/> for a few tokens (decode): y[t, o] = Σᵢ x[t, i]·W[o, i], one weight row
/// after another. Decoding is bound by reading the weights, and rows are contiguous, so walking them in order is one
/// long sequential stream, which the hardware prefetcher follows best: measured against the read bandwidth in the
/// same rounds (110M shapes, 1 thread), a tile interleaving 4 rows reached 52-54%, the same with software prefetch of
/// the next tile 51-54%, one row at a time 77-87%, and one row at a time with software prefetch 63-65%.
/// For batches of 4 tokens a row is read once for all 4. Work is numbered in tiles of <see cref="Rows"/> rows; each
/// output element is computed by one tile with the same arithmetic whichever thread runs it, so results do not
/// depend on the thread count.
/// </summary>
internal static unsafe class RowTiles
{
    /// <summary>Weight rows per unit of work.</summary>
    public const int Rows = 4;

    /// <summary>Computes rows [tileStart·Rows, min(tileEnd·Rows, n)) of y [tokens, n] from W [n, k] and x [tokens, k].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(float* w, float* x, float* y, int n, int k, int tokens, int tileStart, int tileEnd)
    {
        var width = Simd.Active;
        int rowStart = tileStart * Rows, rowEnd = Math.Min(tileEnd * Rows, n);
        int t = 0;
        float* r = stackalloc float[4];
        if (width != SimdWidth.Scalar)
        {
            for (; t + 4 <= tokens; t += 4)
                for (int o = rowStart; o < rowEnd; o++)
                {
                    float* row = w + (long)o * k, xt = x + (long)t * k;
                    if (width == SimdWidth.Vector512)
                        RowTimes4Vector512(row, xt, k, r);
                    else
                        RowTimes4Portable(row, xt, k, r);
                    for (int j = 0; j < 4; j++)
                        y[(long)(t + j) * n + o] = r[j];
                }
        }
        for (; t < tokens; t++)
        {
            float* xt = x + (long)t * k, yt = y + (long)t * n;
            for (int o = rowStart; o < rowEnd; o++)
                yt[o] = Dot.Compute(w + (long)o * k, xt, k);
        }
    }

    /// <summary>r[j] = row · x[j·k..] for 4 tokens: each weight vector is loaded once for the 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowTimes4Vector512(float* row, float* x, int k, float* r)
    {
        float* x0 = x, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i <= k - 16; i += 16)
        {
            var v = Vector512.Load(row + i);
            a0 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x0 + i), a0);
            a1 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x1 + i), a1);
            a2 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x2 + i), a2);
            a3 = Vector512.FusedMultiplyAdd(v, Vector512.Load(x3 + i), a3);
        }
        float s0 = Vector512.Sum(a0), s1 = Vector512.Sum(a1), s2 = Vector512.Sum(a2), s3 = Vector512.Sum(a3);
        for (; i < k; i++)
        {
            s0 += row[i] * x0[i]; s1 += row[i] * x1[i]; s2 += row[i] * x2[i]; s3 += row[i] * x3[i];
        }
        r[0] = s0; r[1] = s1; r[2] = s2; r[3] = s3;
    }

    /// <summary>The Vector256 and portable paths share this (Vector&lt;float&gt; is 256-bit on AVX2, 128-bit on NEON).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowTimes4Portable(float* row, float* x, int k, float* r)
    {
        float* x0 = x, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int width = Vector<float>.Count;
        int i = 0;
        for (; i <= k - width; i += width)
        {
            var v = Vector.Load(row + i);
            a0 = Vector.FusedMultiplyAdd(v, Vector.Load(x0 + i), a0);
            a1 = Vector.FusedMultiplyAdd(v, Vector.Load(x1 + i), a1);
            a2 = Vector.FusedMultiplyAdd(v, Vector.Load(x2 + i), a2);
            a3 = Vector.FusedMultiplyAdd(v, Vector.Load(x3 + i), a3);
        }
        float s0 = Vector.Sum(a0), s1 = Vector.Sum(a1), s2 = Vector.Sum(a2), s3 = Vector.Sum(a3);
        for (; i < k; i++)
        {
            s0 += row[i] * x0[i]; s1 += row[i] * x1[i]; s2 += row[i] * x2[i]; s3 += row[i] * x3[i];
        }
        r[0] = s0; r[1] = s1; r[2] = s2; r[3] = s3;
    }
}
