using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// The two inner loops of attention for one (token, head) over the KV cache, whose rows are <c>stride</c> floats
/// apart: scores against every cached key, and the score-weighted sum of the cached values. Vectorised along the
/// head dimension; scores take 4 keys per pass (4 independent accumulators), and the weighted sum keeps a 64-float
/// slice of the output in registers while it walks the values, so nothing is stored per position. The weighted sum
/// adds to the output, so a long cache can be walked in blocks.
/// </summary>
public static unsafe class AttentionRows
{
    /// <summary>scores[p] = scale · Σᵢ q[i]·keys[p·stride + i] for p &lt; scores.Length.</summary>
    public static void Scores(float* q, float* keys, int stride, int headDim, float scale, Span<float> scores)
    {
        fixed (float* s = scores)
        {
            switch (Simd.Active)
            {
                case SimdWidth.Vector512: ScoresVector512(q, keys, stride, headDim, scale, s, scores.Length); break;
                case SimdWidth.Scalar: ScoresScalar(q, keys, stride, headDim, scale, s, scores.Length); break;
                default: ScoresPortable(q, keys, stride, headDim, scale, s, scores.Length); break;
            }
        }
    }

    /// <summary>output[i] += Σ_p weights[p]·values[p·stride + i] for i &lt; headDim.</summary>
    public static void WeightedSum(ReadOnlySpan<float> weights, float* values, int stride, int headDim, float* output)
    {
        fixed (float* w = weights)
        {
            switch (Simd.Active)
            {
                case SimdWidth.Vector512: WeightedSumVector512(w, weights.Length, values, stride, headDim, output); break;
                case SimdWidth.Scalar: WeightedSumScalar(w, weights.Length, values, stride, headDim, output); break;
                default: WeightedSumPortable(w, weights.Length, values, stride, headDim, output); break;
            }
        }
    }

    /// <summary>The scalar twin of <see cref="Scores"/>.</summary>
    public static void ScoresScalar(float* q, float* keys, int stride, int headDim, float scale, float* s, int length)
    {
        for (int p = 0; p < length; p++)
            s[p] = Dot.Scalar(q, keys + (long)p * stride, headDim) * scale;
    }

    /// <summary>The scalar twin of <see cref="WeightedSum"/>.</summary>
    public static void WeightedSumScalar(float* w, int length, float* values, int stride, int headDim, float* output)
    {
        for (int i = 0; i < headDim; i++)
        {
            float sum = output[i];
            for (int p = 0; p < length; p++)
                sum += w[p] * values[(long)p * stride + i];
            output[i] = sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresVector512(float* q, float* keys, int stride, int d, float scale, float* s, int length)
    {
        int p = 0;
        for (; p + 4 <= length; p += 4)
        {
            float* k0 = keys + (long)p * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            int i = 0;
            for (; i <= d - 16; i += 16)
            {
                var u = Vector512.Load(q + i);
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(k0 + i), u, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(k1 + i), u, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(k2 + i), u, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(k3 + i), u, a3);
            }
            var sums = Sum4(a0, a1, a2, a3);
            for (; i < d; i++)
                sums += Vector128.Create(q[i] * k0[i], q[i] * k1[i], q[i] * k2[i], q[i] * k3[i]);
            (sums * scale).Store(s + p);
        }
        for (; p < length; p++)
            s[p] = Dot.Compute(q, keys + (long)p * stride, d) * scale;
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
    private static void ScoresPortable(float* q, float* keys, int stride, int d, float scale, float* s, int length)
    {
        int width = Vector<float>.Count;
        int p = 0;
        for (; p + 4 <= length; p += 4)
        {
            float* k0 = keys + (long)p * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
            Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
            int i = 0;
            for (; i <= d - width; i += width)
            {
                var u = Vector.Load(q + i);
                a0 = Vector.FusedMultiplyAdd(Vector.Load(k0 + i), u, a0);
                a1 = Vector.FusedMultiplyAdd(Vector.Load(k1 + i), u, a1);
                a2 = Vector.FusedMultiplyAdd(Vector.Load(k2 + i), u, a2);
                a3 = Vector.FusedMultiplyAdd(Vector.Load(k3 + i), u, a3);
            }
            float s0 = Vector.Sum(a0), s1 = Vector.Sum(a1), s2 = Vector.Sum(a2), s3 = Vector.Sum(a3);
            for (; i < d; i++)
            {
                s0 += q[i] * k0[i]; s1 += q[i] * k1[i]; s2 += q[i] * k2[i]; s3 += q[i] * k3[i];
            }
            s[p] = s0 * scale; s[p + 1] = s1 * scale; s[p + 2] = s2 * scale; s[p + 3] = s3 * scale;
        }
        for (; p < length; p++)
            s[p] = Dot.Compute(q, keys + (long)p * stride, d) * scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightedSumVector512(float* w, int length, float* values, int stride, int d, float* output)
    {
        int i = 0;
        for (; i <= d - 64; i += 64)
        {
            // Even positions into a, odd into b: eight FMA chains keep both FMA units busy (four would wait on latency).
            Vector512<float> a0 = Vector512.Load(output + i), a1 = Vector512.Load(output + i + 16),
                a2 = Vector512.Load(output + i + 32), a3 = Vector512.Load(output + i + 48);
            Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
            float* v = values + i;
            int p = 0;
            for (; p + 2 <= length; p += 2, v += 2 * stride)
            {
                var c = Vector512.Create(w[p]);
                var e = Vector512.Create(w[p + 1]);
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(v), c, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(v + 16), c, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(v + 32), c, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(v + 48), c, a3);
                b0 = Vector512.FusedMultiplyAdd(Vector512.Load(v + stride), e, b0);
                b1 = Vector512.FusedMultiplyAdd(Vector512.Load(v + stride + 16), e, b1);
                b2 = Vector512.FusedMultiplyAdd(Vector512.Load(v + stride + 32), e, b2);
                b3 = Vector512.FusedMultiplyAdd(Vector512.Load(v + stride + 48), e, b3);
            }
            if (p < length)
            {
                var c = Vector512.Create(w[p]);
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(v), c, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(v + 16), c, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(v + 32), c, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(v + 48), c, a3);
            }
            (a0 + b0).Store(output + i); (a1 + b1).Store(output + i + 16); (a2 + b2).Store(output + i + 32); (a3 + b3).Store(output + i + 48);
        }
        for (; i <= d - 16; i += 16)
        {
            var a = Vector512.Load(output + i);
            float* v = values + i;
            for (int p = 0; p < length; p++, v += stride)
                a = Vector512.FusedMultiplyAdd(Vector512.Load(v), Vector512.Create(w[p]), a);
            a.Store(output + i);
        }
        for (; i < d; i++)
        {
            float sum = output[i];
            for (int p = 0; p < length; p++)
                sum += w[p] * values[(long)p * stride + i];
            output[i] = sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightedSumPortable(float* w, int length, float* values, int stride, int d, float* output)
    {
        int width = Vector<float>.Count;
        int i = 0;
        for (; i <= d - 4 * width; i += 4 * width)
        {
            Vector<float> a0 = Vector.Load(output + i), a1 = Vector.Load(output + i + width),
                a2 = Vector.Load(output + i + 2 * width), a3 = Vector.Load(output + i + 3 * width);
            float* v = values + i;
            for (int p = 0; p < length; p++, v += stride)
            {
                var c = new Vector<float>(w[p]);
                a0 = Vector.FusedMultiplyAdd(Vector.Load(v), c, a0);
                a1 = Vector.FusedMultiplyAdd(Vector.Load(v + width), c, a1);
                a2 = Vector.FusedMultiplyAdd(Vector.Load(v + 2 * width), c, a2);
                a3 = Vector.FusedMultiplyAdd(Vector.Load(v + 3 * width), c, a3);
            }
            a0.Store(output + i); a1.Store(output + i + width); a2.Store(output + i + 2 * width); a3.Store(output + i + 3 * width);
        }
        for (; i <= d - width; i += width)
        {
            var a = Vector.Load(output + i);
            float* v = values + i;
            for (int p = 0; p < length; p++, v += stride)
                a = Vector.FusedMultiplyAdd(Vector.Load(v), new Vector<float>(w[p]), a);
            a.Store(output + i);
        }
        for (; i < d; i++)
        {
            float sum = output[i];
            for (int p = 0; p < length; p++)
                sum += w[p] * values[(long)p * stride + i];
            output[i] = sum;
        }
    }
}
