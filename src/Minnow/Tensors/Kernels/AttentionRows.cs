using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// The two inner loops of attention over the KV cache, for the query rows of one KV head's group (rows·qStride apart)
/// against cached rows <c>stride</c> floats apart: scores against every cached key, and the score-weighted sums of the
/// cached values. Vectorised along the head dimension. With 512-bit vectors and head sizes a multiple of 16, up to four
/// query rows go together, so each key and value is loaded once for all of them: scores take 4 keys per pass and reduce
/// the four accumulators of a row together, and the weighted sum keeps a 64-float slice of every row's output in
/// registers while it walks the values. The weighted sum adds to the output, so a long cache can be walked in blocks.
/// </summary>
public static unsafe class AttentionRows
{
    /// <summary>s[r·sStride + p] = scale · Σᵢ q[r·qStride + i]·keys[p·stride + i] for r &lt; rows, p &lt; length.</summary>
    public static void Scores(float* q, int rows, int qStride, float* keys, int stride, int headDim, float scale, float* s, int sStride, int length) =>
        Scores<float, F32Kv>(q, rows, qStride, keys, stride, headDim, scale, s, sStride, length);

    /// <summary>The same, keys stored as BF16.</summary>
    public static void Scores(float* q, int rows, int qStride, ushort* keys, int stride, int headDim, float scale, float* s, int sStride, int length) =>
        Scores<ushort, Bf16Kv>(q, rows, qStride, keys, stride, headDim, scale, s, sStride, length);

    internal static void Scores<T, TKv>(float* q, int rows, int qStride, T* keys, int stride, int headDim, float scale, float* s, int sStride, int length)
        where T : unmanaged where TKv : IKvElement<T>
    {
        if (Simd.Active == SimdWidth.Vector512 && headDim % 16 == 0)
        {
            for (int r = 0; r < rows; r += 4)
            {
                float* qr = q + (long)r * qStride, sr = s + (long)r * sStride;
                switch (Math.Min(4, rows - r))
                {
                    case 1: ScoresVector512<T, TKv>(qr, keys, stride, headDim, scale, sr, length); break;
                    case 2: ScoresTile<Two, T, TKv>(qr, qStride, keys, stride, headDim, scale, sr, sStride, length); break;
                    case 3: ScoresTile<Three, T, TKv>(qr, qStride, keys, stride, headDim, scale, sr, sStride, length); break;
                    default: ScoresTile<Four, T, TKv>(qr, qStride, keys, stride, headDim, scale, sr, sStride, length); break;
                }
            }
            return;
        }
        for (int r = 0; r < rows; r++)
        {
            float* qr = q + (long)r * qStride, sr = s + (long)r * sStride;
            switch (Simd.Active)
            {
                case SimdWidth.Vector512: ScoresVector512<T, TKv>(qr, keys, stride, headDim, scale, sr, length); break;
                case SimdWidth.Scalar: ScoresScalar<T, TKv>(qr, keys, stride, headDim, scale, sr, length); break;
                default: ScoresPortable<T, TKv>(qr, keys, stride, headDim, scale, sr, length); break;
            }
        }
    }

    /// <summary>output[r·outStride + i] += Σ_p w[r·wStride + p]·values[p·stride + i] for r &lt; rows, i &lt; headDim.</summary>
    public static void WeightedSum(float* w, int wStride, int rows, int length, float* values, int stride, int headDim, float* output, int outStride) =>
        WeightedSum<float, F32Kv>(w, wStride, rows, length, values, stride, headDim, output, outStride);

    /// <summary>The same, values stored as BF16.</summary>
    public static void WeightedSum(float* w, int wStride, int rows, int length, ushort* values, int stride, int headDim, float* output, int outStride) =>
        WeightedSum<ushort, Bf16Kv>(w, wStride, rows, length, values, stride, headDim, output, outStride);

    internal static void WeightedSum<T, TKv>(float* w, int wStride, int rows, int length, T* values, int stride, int headDim, float* output, int outStride)
        where T : unmanaged where TKv : IKvElement<T>
    {
        if (Simd.Active == SimdWidth.Vector512 && headDim % 16 == 0)
        {
            for (int r = 0; r < rows; r += 4)
            {
                float* wr = w + (long)r * wStride, or = output + (long)r * outStride;
                switch (Math.Min(4, rows - r))
                {
                    case 1: WeightedSumVector512<T, TKv>(wr, length, values, stride, headDim, or); break;
                    case 2: WeightedSumTile<Two, T, TKv>(wr, wStride, length, values, stride, headDim, or, outStride); break;
                    case 3: WeightedSumTile<Three, T, TKv>(wr, wStride, length, values, stride, headDim, or, outStride); break;
                    default: WeightedSumTile<Four, T, TKv>(wr, wStride, length, values, stride, headDim, or, outStride); break;
                }
            }
            return;
        }
        for (int r = 0; r < rows; r++)
        {
            float* wr = w + (long)r * wStride, or = output + (long)r * outStride;
            switch (Simd.Active)
            {
                case SimdWidth.Vector512: WeightedSumVector512<T, TKv>(wr, length, values, stride, headDim, or); break;
                case SimdWidth.Scalar: WeightedSumScalar<T, TKv>(wr, length, values, stride, headDim, or); break;
                default: WeightedSumPortable<T, TKv>(wr, length, values, stride, headDim, or); break;
            }
        }
    }

    /// <summary>How many query rows a tile kernel takes (a JIT-time constant, so unused rows compile away).</summary>
    private interface IRows { static abstract int Count { get; } }
    private struct Two : IRows { public static int Count => 2; }
    private struct Three : IRows { public static int Count => 3; }
    private struct Four : IRows { public static int Count => 4; }

    /// <summary>Scores of 2–4 query rows, 4 keys per pass: each key slice is loaded once for every row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresTile<TRows, T, TKv>(float* q, int qStride, T* keys, int stride, int d, float scale, float* s, int sStride, int length)
        where TRows : IRows where T : unmanaged where TKv : IKvElement<T>
    {
        int rows = TRows.Count;
        float* q1 = q + qStride, q2 = q1 + qStride, q3 = q2 + qStride;
        float* s1 = s + sStride, s2 = s1 + sStride, s3 = s2 + sStride;
        int p = 0;
        for (; p + 4 <= length; p += 4)
        {
            T* k0 = keys + (long)p * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
            Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
            Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
            for (int i = 0; i < d; i += 16)
            {
                Vector512<float> v0 = TKv.Load512(k0 + i), v1 = TKv.Load512(k1 + i), v2 = TKv.Load512(k2 + i), v3 = TKv.Load512(k3 + i);
                var u = Vector512.Load(q + i);
                a00 = Vector512.FusedMultiplyAdd(v0, u, a00); a01 = Vector512.FusedMultiplyAdd(v1, u, a01);
                a02 = Vector512.FusedMultiplyAdd(v2, u, a02); a03 = Vector512.FusedMultiplyAdd(v3, u, a03);
                u = Vector512.Load(q1 + i);
                a10 = Vector512.FusedMultiplyAdd(v0, u, a10); a11 = Vector512.FusedMultiplyAdd(v1, u, a11);
                a12 = Vector512.FusedMultiplyAdd(v2, u, a12); a13 = Vector512.FusedMultiplyAdd(v3, u, a13);
                if (rows > 2)
                {
                    u = Vector512.Load(q2 + i);
                    a20 = Vector512.FusedMultiplyAdd(v0, u, a20); a21 = Vector512.FusedMultiplyAdd(v1, u, a21);
                    a22 = Vector512.FusedMultiplyAdd(v2, u, a22); a23 = Vector512.FusedMultiplyAdd(v3, u, a23);
                }
                if (rows > 3)
                {
                    u = Vector512.Load(q3 + i);
                    a30 = Vector512.FusedMultiplyAdd(v0, u, a30); a31 = Vector512.FusedMultiplyAdd(v1, u, a31);
                    a32 = Vector512.FusedMultiplyAdd(v2, u, a32); a33 = Vector512.FusedMultiplyAdd(v3, u, a33);
                }
            }
            (Sum4(a00, a01, a02, a03) * scale).Store(s + p);
            (Sum4(a10, a11, a12, a13) * scale).Store(s1 + p);
            if (rows > 2)
                (Sum4(a20, a21, a22, a23) * scale).Store(s2 + p);
            if (rows > 3)
                (Sum4(a30, a31, a32, a33) * scale).Store(s3 + p);
        }
        for (; p < length; p++)
        {
            T* k = keys + (long)p * stride;
            s[p] = RowDot<T, TKv>(q, k, d) * scale;
            s1[p] = RowDot<T, TKv>(q1, k, d) * scale;
            if (rows > 2)
                s2[p] = RowDot<T, TKv>(q2, k, d) * scale;
            if (rows > 3)
                s3[p] = RowDot<T, TKv>(q3, k, d) * scale;
        }
    }

    /// <summary>Weighted sums of 2–4 rows: each 64-float value slice is loaded once for every row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightedSumTile<TRows, T, TKv>(float* w, int wStride, int length, T* values, int stride, int d, float* output, int outStride)
        where TRows : IRows where T : unmanaged where TKv : IKvElement<T>
    {
        int rows = TRows.Count;
        float* w1 = w + wStride, w2 = w1 + wStride, w3 = w2 + wStride;
        float* o0 = output, o1 = o0 + outStride, o2 = o1 + outStride, o3 = o2 + outStride;
        int i = 0;
        for (; i + 64 <= d; i += 64)
        {
            Vector512<float> a00 = Vector512.Load(o0 + i), a01 = Vector512.Load(o0 + i + 16), a02 = Vector512.Load(o0 + i + 32), a03 = Vector512.Load(o0 + i + 48);
            Vector512<float> a10 = Vector512.Load(o1 + i), a11 = Vector512.Load(o1 + i + 16), a12 = Vector512.Load(o1 + i + 32), a13 = Vector512.Load(o1 + i + 48);
            Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
            if (rows > 2)
            {
                a20 = Vector512.Load(o2 + i); a21 = Vector512.Load(o2 + i + 16); a22 = Vector512.Load(o2 + i + 32); a23 = Vector512.Load(o2 + i + 48);
            }
            if (rows > 3)
            {
                a30 = Vector512.Load(o3 + i); a31 = Vector512.Load(o3 + i + 16); a32 = Vector512.Load(o3 + i + 32); a33 = Vector512.Load(o3 + i + 48);
            }
            T* v = values + i;
            for (int p = 0; p < length; p++, v += stride)
            {
                Vector512<float> v0 = TKv.Load512(v), v1 = TKv.Load512(v + 16), v2 = TKv.Load512(v + 32), v3 = TKv.Load512(v + 48);
                var c = Vector512.Create(w[p]);
                a00 = Vector512.FusedMultiplyAdd(v0, c, a00); a01 = Vector512.FusedMultiplyAdd(v1, c, a01);
                a02 = Vector512.FusedMultiplyAdd(v2, c, a02); a03 = Vector512.FusedMultiplyAdd(v3, c, a03);
                c = Vector512.Create(w1[p]);
                a10 = Vector512.FusedMultiplyAdd(v0, c, a10); a11 = Vector512.FusedMultiplyAdd(v1, c, a11);
                a12 = Vector512.FusedMultiplyAdd(v2, c, a12); a13 = Vector512.FusedMultiplyAdd(v3, c, a13);
                if (rows > 2)
                {
                    c = Vector512.Create(w2[p]);
                    a20 = Vector512.FusedMultiplyAdd(v0, c, a20); a21 = Vector512.FusedMultiplyAdd(v1, c, a21);
                    a22 = Vector512.FusedMultiplyAdd(v2, c, a22); a23 = Vector512.FusedMultiplyAdd(v3, c, a23);
                }
                if (rows > 3)
                {
                    c = Vector512.Create(w3[p]);
                    a30 = Vector512.FusedMultiplyAdd(v0, c, a30); a31 = Vector512.FusedMultiplyAdd(v1, c, a31);
                    a32 = Vector512.FusedMultiplyAdd(v2, c, a32); a33 = Vector512.FusedMultiplyAdd(v3, c, a33);
                }
            }
            a00.Store(o0 + i); a01.Store(o0 + i + 16); a02.Store(o0 + i + 32); a03.Store(o0 + i + 48);
            a10.Store(o1 + i); a11.Store(o1 + i + 16); a12.Store(o1 + i + 32); a13.Store(o1 + i + 48);
            if (rows > 2)
            {
                a20.Store(o2 + i); a21.Store(o2 + i + 16); a22.Store(o2 + i + 32); a23.Store(o2 + i + 48);
            }
            if (rows > 3)
            {
                a30.Store(o3 + i); a31.Store(o3 + i + 16); a32.Store(o3 + i + 32); a33.Store(o3 + i + 48);
            }
        }
        for (; i < d; i += 16)
        {
            Vector512<float> a0 = Vector512.Load(o0 + i), a1 = Vector512.Load(o1 + i);
            Vector512<float> a2 = rows > 2 ? Vector512.Load(o2 + i) : default, a3 = rows > 3 ? Vector512.Load(o3 + i) : default;
            T* v = values + i;
            for (int p = 0; p < length; p++, v += stride)
            {
                var x = TKv.Load512(v);
                a0 = Vector512.FusedMultiplyAdd(x, Vector512.Create(w[p]), a0);
                a1 = Vector512.FusedMultiplyAdd(x, Vector512.Create(w1[p]), a1);
                if (rows > 2)
                    a2 = Vector512.FusedMultiplyAdd(x, Vector512.Create(w2[p]), a2);
                if (rows > 3)
                    a3 = Vector512.FusedMultiplyAdd(x, Vector512.Create(w3[p]), a3);
            }
            a0.Store(o0 + i); a1.Store(o1 + i);
            if (rows > 2)
                a2.Store(o2 + i);
            if (rows > 3)
                a3.Store(o3 + i);
        }
    }

    /// <summary>The scalar twin of one row of the scores.</summary>
    public static void ScoresScalar(float* q, float* keys, int stride, int headDim, float scale, float* s, int length) =>
        ScoresScalar<float, F32Kv>(q, keys, stride, headDim, scale, s, length);

    private static void ScoresScalar<T, TKv>(float* q, T* keys, int stride, int headDim, float scale, float* s, int length)
        where T : unmanaged where TKv : IKvElement<T>
    {
        for (int p = 0; p < length; p++)
        {
            T* k = keys + (long)p * stride;
            float sum = 0;
            for (int i = 0; i < headDim; i++)
                sum += q[i] * TKv.ToSingle(k[i]);
            s[p] = sum * scale;
        }
    }

    /// <summary>The scalar twin of one row of the weighted sums.</summary>
    public static void WeightedSumScalar(float* w, int length, float* values, int stride, int headDim, float* output) =>
        WeightedSumScalar<float, F32Kv>(w, length, values, stride, headDim, output);

    private static void WeightedSumScalar<T, TKv>(float* w, int length, T* values, int stride, int headDim, float* output)
        where T : unmanaged where TKv : IKvElement<T>
    {
        for (int i = 0; i < headDim; i++)
        {
            float sum = output[i];
            for (int p = 0; p < length; p++)
                sum += w[p] * TKv.ToSingle(values[(long)p * stride + i]);
            output[i] = sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresVector512<T, TKv>(float* q, T* keys, int stride, int d, float scale, float* s, int length)
        where T : unmanaged where TKv : IKvElement<T>
    {
        int p = 0;
        for (; p + 4 <= length; p += 4)
        {
            T* k0 = keys + (long)p * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            int i = 0;
            for (; i <= d - 16; i += 16)
            {
                var u = Vector512.Load(q + i);
                a0 = Vector512.FusedMultiplyAdd(TKv.Load512(k0 + i), u, a0);
                a1 = Vector512.FusedMultiplyAdd(TKv.Load512(k1 + i), u, a1);
                a2 = Vector512.FusedMultiplyAdd(TKv.Load512(k2 + i), u, a2);
                a3 = Vector512.FusedMultiplyAdd(TKv.Load512(k3 + i), u, a3);
            }
            var sums = Sum4(a0, a1, a2, a3);
            for (; i < d; i++)
                sums += Vector128.Create(q[i] * TKv.ToSingle(k0[i]), q[i] * TKv.ToSingle(k1[i]), q[i] * TKv.ToSingle(k2[i]), q[i] * TKv.ToSingle(k3[i]));
            (sums * scale).Store(s + p);
        }
        for (; p < length; p++)
            s[p] = RowDot<T, TKv>(q, keys + (long)p * stride, d) * scale;
    }

    /// <summary>
    /// The four vectors' lane sums, together: halves and quarters of all four are added across vectors first (six
    /// 128-bit block shuffles, three adds), so only one vector is reduced within its blocks — about half the shuffles of
    /// four separate sums, which were most of the work of a 64-wide head's scores.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Sum4(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3)
    {
        // Blocks [a0 a0 a1 a1] and [a2 a2 a3 a3] (each a partial sum of its vector), then [a0 a1 a2 a3].
        var x01 = Avx512F.Shuffle4x128(a0, a1, 0b01_00_01_00) + Avx512F.Shuffle4x128(a0, a1, 0b11_10_11_10);
        var x23 = Avx512F.Shuffle4x128(a2, a3, 0b01_00_01_00) + Avx512F.Shuffle4x128(a2, a3, 0b11_10_11_10);
        var y = Avx512F.Shuffle4x128(x01, x23, 0b10_00_10_00) + Avx512F.Shuffle4x128(x01, x23, 0b11_01_11_01);
        y += Avx512F.Permute4x32(y, 0b10_11_00_01);
        y += Avx512F.Permute4x32(y, 0b01_00_11_10);
        return Avx512F.PermuteVar16x32(y, Vector512.Create(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)).GetLower().GetLower();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresPortable<T, TKv>(float* q, T* keys, int stride, int d, float scale, float* s, int length)
        where T : unmanaged where TKv : IKvElement<T>
    {
        int width = Vector<float>.Count;
        int p = 0;
        for (; p + 4 <= length; p += 4)
        {
            T* k0 = keys + (long)p * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
            Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
            int i = 0;
            for (; i <= d - width; i += width)
            {
                var u = Vector.Load(q + i);
                a0 = Vector.FusedMultiplyAdd(TKv.LoadVector(k0 + i), u, a0);
                a1 = Vector.FusedMultiplyAdd(TKv.LoadVector(k1 + i), u, a1);
                a2 = Vector.FusedMultiplyAdd(TKv.LoadVector(k2 + i), u, a2);
                a3 = Vector.FusedMultiplyAdd(TKv.LoadVector(k3 + i), u, a3);
            }
            float s0 = Vector.Sum(a0), s1 = Vector.Sum(a1), s2 = Vector.Sum(a2), s3 = Vector.Sum(a3);
            for (; i < d; i++)
            {
                s0 += q[i] * TKv.ToSingle(k0[i]); s1 += q[i] * TKv.ToSingle(k1[i]); s2 += q[i] * TKv.ToSingle(k2[i]); s3 += q[i] * TKv.ToSingle(k3[i]);
            }
            s[p] = s0 * scale; s[p + 1] = s1 * scale; s[p + 2] = s2 * scale; s[p + 3] = s3 * scale;
        }
        for (; p < length; p++)
            s[p] = RowDot<T, TKv>(q, keys + (long)p * stride, d) * scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightedSumVector512<T, TKv>(float* w, int length, T* values, int stride, int d, float* output)
        where T : unmanaged where TKv : IKvElement<T>
    {
        int i = 0;
        for (; i <= d - 64; i += 64)
        {
            // Even positions into a, odd into b: eight FMA chains keep both FMA units busy (four would wait on latency).
            Vector512<float> a0 = Vector512.Load(output + i), a1 = Vector512.Load(output + i + 16),
                a2 = Vector512.Load(output + i + 32), a3 = Vector512.Load(output + i + 48);
            Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
            T* v = values + i;
            int p = 0;
            for (; p + 2 <= length; p += 2, v += 2 * stride)
            {
                var c = Vector512.Create(w[p]);
                var e = Vector512.Create(w[p + 1]);
                a0 = Vector512.FusedMultiplyAdd(TKv.Load512(v), c, a0);
                a1 = Vector512.FusedMultiplyAdd(TKv.Load512(v + 16), c, a1);
                a2 = Vector512.FusedMultiplyAdd(TKv.Load512(v + 32), c, a2);
                a3 = Vector512.FusedMultiplyAdd(TKv.Load512(v + 48), c, a3);
                b0 = Vector512.FusedMultiplyAdd(TKv.Load512(v + stride), e, b0);
                b1 = Vector512.FusedMultiplyAdd(TKv.Load512(v + stride + 16), e, b1);
                b2 = Vector512.FusedMultiplyAdd(TKv.Load512(v + stride + 32), e, b2);
                b3 = Vector512.FusedMultiplyAdd(TKv.Load512(v + stride + 48), e, b3);
            }
            if (p < length)
            {
                var c = Vector512.Create(w[p]);
                a0 = Vector512.FusedMultiplyAdd(TKv.Load512(v), c, a0);
                a1 = Vector512.FusedMultiplyAdd(TKv.Load512(v + 16), c, a1);
                a2 = Vector512.FusedMultiplyAdd(TKv.Load512(v + 32), c, a2);
                a3 = Vector512.FusedMultiplyAdd(TKv.Load512(v + 48), c, a3);
            }
            (a0 + b0).Store(output + i); (a1 + b1).Store(output + i + 16); (a2 + b2).Store(output + i + 32); (a3 + b3).Store(output + i + 48);
        }
        for (; i <= d - 16; i += 16)
        {
            var a = Vector512.Load(output + i);
            T* v = values + i;
            for (int p = 0; p < length; p++, v += stride)
                a = Vector512.FusedMultiplyAdd(TKv.Load512(v), Vector512.Create(w[p]), a);
            a.Store(output + i);
        }
        for (; i < d; i++)
        {
            float sum = output[i];
            for (int p = 0; p < length; p++)
                sum += w[p] * TKv.ToSingle(values[(long)p * stride + i]);
            output[i] = sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightedSumPortable<T, TKv>(float* w, int length, T* values, int stride, int d, float* output)
        where T : unmanaged where TKv : IKvElement<T>
    {
        int width = Vector<float>.Count;
        int i = 0;
        for (; i <= d - 4 * width; i += 4 * width)
        {
            Vector<float> a0 = Vector.Load(output + i), a1 = Vector.Load(output + i + width),
                a2 = Vector.Load(output + i + 2 * width), a3 = Vector.Load(output + i + 3 * width);
            T* v = values + i;
            for (int p = 0; p < length; p++, v += stride)
            {
                var c = new Vector<float>(w[p]);
                a0 = Vector.FusedMultiplyAdd(TKv.LoadVector(v), c, a0);
                a1 = Vector.FusedMultiplyAdd(TKv.LoadVector(v + width), c, a1);
                a2 = Vector.FusedMultiplyAdd(TKv.LoadVector(v + 2 * width), c, a2);
                a3 = Vector.FusedMultiplyAdd(TKv.LoadVector(v + 3 * width), c, a3);
            }
            a0.Store(output + i); a1.Store(output + i + width); a2.Store(output + i + 2 * width); a3.Store(output + i + 3 * width);
        }
        for (; i <= d - width; i += width)
        {
            var a = Vector.Load(output + i);
            T* v = values + i;
            for (int p = 0; p < length; p++, v += stride)
                a = Vector.FusedMultiplyAdd(TKv.LoadVector(v), new Vector<float>(w[p]), a);
            a.Store(output + i);
        }
        for (; i < d; i++)
        {
            float sum = output[i];
            for (int p = 0; p < length; p++)
                sum += w[p] * TKv.ToSingle(values[(long)p * stride + i]);
            output[i] = sum;
        }
    }

    /// <summary>q · k over d values (the keys left over from the 4-key passes).</summary>
    private static float RowDot<T, TKv>(float* q, T* k, int d) where T : unmanaged where TKv : IKvElement<T>
    {
        int i = 0;
        float sum = 0;
        if (Simd.Active == SimdWidth.Vector512)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= d - 16; i += 16)
                acc = Vector512.FusedMultiplyAdd(TKv.Load512(k + i), Vector512.Load(q + i), acc);
            sum = Vector512.Sum(acc);
        }
        else if (Simd.Active == SimdWidth.Portable)
        {
            var acc = Vector<float>.Zero;
            for (; i <= d - Vector<float>.Count; i += Vector<float>.Count)
                acc = Vector.FusedMultiplyAdd(TKv.LoadVector(k + i), Vector.Load(q + i), acc);
            sum = Vector.Sum(acc);
        }
        for (; i < d; i++)
            sum += q[i] * TKv.ToSingle(k[i]);
        return sum;
    }
}

/// <summary>How the KV cache stores a number: <see cref="F32Kv"/> as is, <see cref="Bf16Kv"/> as a float's top 16 bits.</summary>
internal unsafe interface IKvElement<T> where T : unmanaged
{
    /// <summary>16 values from p.</summary>
    static abstract Vector512<float> Load512(T* p);

    /// <summary><see cref="Vector{T}.Count"/> values from p (BF16 reads twice as many: the cache is padded for it).</summary>
    static abstract Vector<float> LoadVector(T* p);

    static abstract float ToSingle(T value);
}

internal unsafe struct F32Kv : IKvElement<float>
{
    public static Vector512<float> Load512(float* p) => Vector512.Load(p);
    public static Vector<float> LoadVector(float* p) => Vector.Load(p);
    public static float ToSingle(float value) => value;
}

internal unsafe struct Bf16Kv : IKvElement<ushort>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ushort* p) => Vector512.ShiftLeft(Avx512F.ConvertToVector512UInt32(Vector256.Load(p)), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> LoadVector(ushort* p) => Vector.AsVectorSingle(Vector.ShiftLeft(Vector.WidenLower(Vector.Load(p)), 16));

    public static float ToSingle(ushort value) => BitConverter.Int32BitsToSingle(value << 16);
}
