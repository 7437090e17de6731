using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// The kernel behind <see cref="MatMul"/> for a few tokens (decode): y[t, o] = Σᵢ x[t, i]·W[o, i] over tiles of
/// <see cref="Rows"/> consecutive weight rows. Decoding is bound by reading the weights, so a tile streams its 4 rows
/// once for up to 4 tokens, with one accumulator per (row, token), and prefetches the rows of the next tile so the
/// memory system always has requests in flight. Each output element is computed by one tile, with the same
/// arithmetic whichever thread runs it, so results do not depend on the thread count.
/// </summary>
internal static unsafe class RowTiles
{
    /// <summary>Weight rows per tile.</summary>
    public const int Rows = 4;

    /// <summary>Computes rows [tileStart·Rows, min(tileEnd·Rows, n)) of y [tokens, n] from W [n, k] and x [tokens, k].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(float* w, float* x, float* y, int n, int k, int tokens, int tileStart, int tileEnd)
    {
        var width = Simd.Active;
        int rowEnd = Math.Min(tileEnd * Rows, n);
        int t = 0;
        if (width != SimdWidth.Scalar)
        {
            for (; t + 4 <= tokens; t += 4)
                for (int o = tileStart * Rows; o < rowEnd; o += Rows)
                    Tile4x4(w, x, y, n, k, o, Math.Min(Rows, rowEnd - o), t, width);
        }
        for (; t < tokens; t++)
        {
            float* xt = x + (long)t * k, yt = y + (long)t * n;
            int o = tileStart * Rows;
            for (; o + Rows <= rowEnd; o += Rows)
            {
                float* w0 = w + (long)o * k;
                switch (width)
                {
                    case SimdWidth.Vector512: Tile4x1Vector512(w0, k, xt, yt + o, rowEnd - o > Rows); break;
                    case SimdWidth.Vector256: Tile4x1Vector256(w0, k, xt, yt + o, rowEnd - o > Rows); break;
                    case SimdWidth.Portable: Tile4x1Portable(w0, k, xt, yt + o); break;
                    default:
                        for (int r = 0; r < Rows; r++)
                            yt[o + r] = Dot.Scalar(w0 + (long)r * k, xt, k);
                        break;
                }
            }
            for (; o < rowEnd; o++)
                yt[o] = Dot.Compute(w + (long)o * k, xt, k);
        }
    }

    /// <summary>
    /// Prefetches the 4 rows after the current tile, a line of each per 64 bytes read; <paramref name="next"/> is the
    /// start of those rows. Hardware prefetchers follow each row's stream, but only after it has started; prefetching
    /// the next tile's rows while this one computes keeps the stream going across tiles.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchNext(float* next, int k, int i)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(next + i);
            Sse.Prefetch0(next + k + i);
            Sse.Prefetch0(next + 2 * k + i);
            Sse.Prefetch0(next + 3 * k + i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1Vector512(float* w0, int k, float* x, float* y, bool prefetch)
    {
        float* w1 = w0 + k, w2 = w1 + k, w3 = w2 + k, next = w3 + k;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i <= k - 16; i += 16)
        {
            if (prefetch) PrefetchNext(next, k, i);
            var u = Vector512.Load(x + i);
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(w0 + i), u, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(w1 + i), u, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Load(w2 + i), u, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.Load(w3 + i), u, a3);
        }
        float s0 = Vector512.Sum(a0), s1 = Vector512.Sum(a1), s2 = Vector512.Sum(a2), s3 = Vector512.Sum(a3);
        for (; i < k; i++)
        {
            s0 += w0[i] * x[i]; s1 += w1[i] * x[i]; s2 += w2[i] * x[i]; s3 += w3[i] * x[i];
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1Vector256(float* w0, int k, float* x, float* y, bool prefetch)
    {
        float* w1 = w0 + k, w2 = w1 + k, w3 = w2 + k, next = w3 + k;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
        int i = 0;
        for (; i <= k - 16; i += 16)
        {
            if (prefetch) PrefetchNext(next, k, i);
            var u = Vector256.Load(x + i);
            var v = Vector256.Load(x + i + 8);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(w0 + i), u, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(w1 + i), u, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(w2 + i), u, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(w3 + i), u, a3);
            b0 = Vector256.FusedMultiplyAdd(Vector256.Load(w0 + i + 8), v, b0);
            b1 = Vector256.FusedMultiplyAdd(Vector256.Load(w1 + i + 8), v, b1);
            b2 = Vector256.FusedMultiplyAdd(Vector256.Load(w2 + i + 8), v, b2);
            b3 = Vector256.FusedMultiplyAdd(Vector256.Load(w3 + i + 8), v, b3);
        }
        float s0 = Vector256.Sum(a0 + b0), s1 = Vector256.Sum(a1 + b1), s2 = Vector256.Sum(a2 + b2), s3 = Vector256.Sum(a3 + b3);
        for (; i < k; i++)
        {
            s0 += w0[i] * x[i]; s1 += w1[i] * x[i]; s2 += w2[i] * x[i]; s3 += w3[i] * x[i];
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1Portable(float* w0, int k, float* x, float* y)
    {
        float* w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
        Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int width = Vector<float>.Count;
        int i = 0;
        for (; i <= k - width; i += width)
        {
            var u = Vector.Load(x + i);
            a0 = Vector.FusedMultiplyAdd(Vector.Load(w0 + i), u, a0);
            a1 = Vector.FusedMultiplyAdd(Vector.Load(w1 + i), u, a1);
            a2 = Vector.FusedMultiplyAdd(Vector.Load(w2 + i), u, a2);
            a3 = Vector.FusedMultiplyAdd(Vector.Load(w3 + i), u, a3);
        }
        float s0 = Vector.Sum(a0), s1 = Vector.Sum(a1), s2 = Vector.Sum(a2), s3 = Vector.Sum(a3);
        for (; i < k; i++)
        {
            s0 += w0[i] * x[i]; s1 += w1[i] * x[i]; s2 += w2[i] * x[i]; s3 += w3[i] * x[i];
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
    }

    /// <summary>Up to 4 rows × 4 tokens: every weight load is shared by 4 tokens and every input load by 4 rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4(float* w, float* x, float* y, int n, int k, int o, int rows, int t, SimdWidth width)
    {
        if (rows < Rows)
        {
            for (int j = 0; j < 4; j++)
                for (int r = 0; r < rows; r++)
                    y[(long)(t + j) * n + o + r] = Dot.Compute(w + (long)(o + r) * k, x + (long)(t + j) * k, k);
            return;
        }
        float* w0 = w + (long)o * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
        float* x0 = x + (long)t * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        float* r16 = stackalloc float[16];
        if (width == SimdWidth.Vector512)
            Tile4x4Vector512(w0, w1, w2, w3, x0, x1, x2, x3, k, r16);
        else
            Tile4x4Portable(w0, w1, w2, w3, x0, x1, x2, x3, k, r16);
        for (int j = 0; j < 4; j++)
            for (int r = 0; r < 4; r++)
                y[(long)(t + j) * n + o + r] = r16[j * 4 + r];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4Vector512(float* w0, float* w1, float* w2, float* w3, float* x0, float* x1, float* x2, float* x3, int n, float* r)
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

    /// <summary>The Vector256 and portable paths share this tile (Vector&lt;float&gt; is 256-bit on AVX2 and 128-bit on NEON).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4Portable(float* w0, float* w1, float* w2, float* w3, float* x0, float* x1, float* x2, float* x3, int n, float* r)
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

    /// <summary>The elements past the last full vector, r[token·4 + row].</summary>
    private static void AddTails(float* w0, float* w1, float* w2, float* w3, float* x0, float* x1, float* x2, float* x3, int i, int n, float* r)
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
