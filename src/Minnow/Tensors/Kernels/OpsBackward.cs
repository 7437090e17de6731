using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Backward passes of the row-wise operations in <see cref="Ops"/>, one row (or one block of elements) per call.
/// Input gradients are written, or added when <c>accumulate</c> is true; parameter gradients are always added.
/// RMSNorm uses TensorPrimitives (SIMD on every CPU); LayerNorm and the activations are fused passes with a Vector512
/// and a portable Vector&lt;float&gt; path. <see cref="ScalarOpsBackward"/> holds the plain twins.
/// </summary>
public static class OpsBackward
{
    /// <summary>Rows up to this long keep the norms' temporaries on the stack.</summary>
    private const int Block = 1024;

    /// <summary>
    /// Backward of <see cref="Ops.RmsNorm"/> for one row, given its saved 1/rms <paramref name="rstd"/>. With x̂ = x·rstd and
    /// g = weight + offset: dweight += dy·x̂; dx = rstd·(dy·g − x̂·mean(dy·g·x̂)).
    /// </summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float weightOffset, float rstd, ReadOnlySpan<float> dy,
        Span<float> dx, bool accumulate, Span<float> dweight)
    {
        int n = x.Length;
        Span<float> g = n <= Block ? stackalloc float[n] : new float[n];
        Span<float> t = n <= Block ? stackalloc float[n] : new float[n];
        // dweight += rstd·(dy·x)
        TensorPrimitives.Multiply(dy, x, t);
        TensorPrimitives.MultiplyAdd(t, rstd, dweight, dweight);
        // g = dy·(weight + offset)
        if (weightOffset == 0f)
        {
            TensorPrimitives.Multiply(dy, weight, g);
        }
        else
        {
            TensorPrimitives.Add(weight, weightOffset, g);
            TensorPrimitives.Multiply(g, dy, g);
        }
        // dx = rstd·g − x·rstd³·mean(g·x)
        float c = rstd * rstd * rstd * TensorPrimitives.Dot(g, x) / n;
        TensorPrimitives.Multiply(g, rstd, g);
        TensorPrimitives.MultiplyAdd(x, -c, g, g);
        if (accumulate)
            TensorPrimitives.Add(dx, g, dx);
        else
            g.CopyTo(dx);
    }

    /// <summary>
    /// Backward of <see cref="Ops.LayerNorm"/> for one row, given its saved mean and 1/std. With x̂ = (x − mean)·rstd:
    /// dbias += dy; dweight += dy·x̂; dx = rstd·(dy·w − mean(dy·w) − x̂·mean(dy·w·x̂)).
    /// </summary>
    public static unsafe void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float mean, float rstd, ReadOnlySpan<float> dy,
        Span<float> dx, bool accumulate, Span<float> dweight, Span<float> dbias)
    {
        // Two fused passes (rows are short, so per-call overheads of many small passes dominated): first the
        // parameter gradients and the two means, then dx.
        int n = x.Length, i = 0;
        float sumG = 0, sumGx = 0;
        fixed (float* px = x, pw = weight, pdy = dy, pdx = dx, pdw = dweight, pdb = dbias)
        {
            if (Simd.Active == SimdWidth.Vector512)
            {
                Vector512<float> m = Vector512.Create(mean), r = Vector512.Create(rstd), accG = default, accGx = default;
                for (; i <= n - 16; i += 16)
                {
                    var xhat = (Vector512.Load(px + i) - m) * r;
                    var d = Vector512.Load(pdy + i);
                    var g = d * Vector512.Load(pw + i);
                    (Vector512.Load(pdb + i) + d).Store(pdb + i);
                    Vector512.FusedMultiplyAdd(d, xhat, Vector512.Load(pdw + i)).Store(pdw + i);
                    accG += g;
                    accGx = Vector512.FusedMultiplyAdd(g, xhat, accGx);
                }
                sumG = Vector512.Sum(accG);
                sumGx = Vector512.Sum(accGx);
            }
            else if (Simd.Active == SimdWidth.Portable)
            {
                Vector<float> m = new(mean), r = new(rstd), accG = default, accGx = default;
                for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var xhat = (Vector.Load(px + i) - m) * r;
                    var d = Vector.Load(pdy + i);
                    var g = d * Vector.Load(pw + i);
                    (Vector.Load(pdb + i) + d).Store(pdb + i);
                    Vector.FusedMultiplyAdd(d, xhat, Vector.Load(pdw + i)).Store(pdw + i);
                    accG += g;
                    accGx = Vector.FusedMultiplyAdd(g, xhat, accGx);
                }
                sumG = Vector.Sum(accG);
                sumGx = Vector.Sum(accGx);
            }
            for (; i < n; i++)
            {
                float xhat = (px[i] - mean) * rstd, g = pdy[i] * pw[i];
                pdb[i] += pdy[i];
                pdw[i] += pdy[i] * xhat;
                sumG += g;
                sumGx += g * xhat;
            }
            // dx = rstd·(g − mean(g) − x̂·mean(g·x̂))
            float meanG = sumG / n, meanGx = sumGx / n;
            i = 0;
            if (Simd.Active == SimdWidth.Vector512)
            {
                Vector512<float> m = Vector512.Create(mean), r = Vector512.Create(rstd), mg = Vector512.Create(meanG), mgx = Vector512.Create(meanGx);
                for (; i <= n - 16; i += 16)
                {
                    var xhat = (Vector512.Load(px + i) - m) * r;
                    var v = (Vector512.Load(pdy + i) * Vector512.Load(pw + i) - mg - xhat * mgx) * r;
                    (accumulate ? Vector512.Load(pdx + i) + v : v).Store(pdx + i);
                }
            }
            else if (Simd.Active == SimdWidth.Portable)
            {
                Vector<float> m = new(mean), r = new(rstd), mg = new(meanG), mgx = new(meanGx);
                for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var xhat = (Vector.Load(px + i) - m) * r;
                    var v = (Vector.Load(pdy + i) * Vector.Load(pw + i) - mg - xhat * mgx) * r;
                    (accumulate ? Vector.Load(pdx + i) + v : v).Store(pdx + i);
                }
            }
            for (; i < n; i++)
            {
                float xhat = (px[i] - mean) * rstd, v = (pdy[i] * pw[i] - meanG - xhat * meanGx) * rstd;
                pdx[i] = accumulate ? pdx[i] + v : v;
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="Ops.SwiGlu"/> (out = silu(gate)·up). With s = sigmoid(gate):
    /// dup = dout·silu(gate); dgate = dout·up·silu'(gate), silu' = s + silu·(1 − s).
    /// </summary>
    public static unsafe void SwiGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, ReadOnlySpan<float> dout,
        Span<float> dgate, Span<float> dup, bool accumulate)
    {
        int i = 0, n = gate.Length;
        fixed (float* g = gate, u = up, d = dout, dg = dgate, du = dup)
        {
            if (Simd.Active == SimdWidth.Vector512)
            {
                var one = Vector512<float>.One;
                for (; i <= n - 16; i += 16)
                {
                    var x = Vector512.Load(g + i);
                    var dy = Vector512.Load(d + i);
                    var sig = one / (one + FastExp.Exp(-x));
                    var silu = x * sig;
                    var dU = dy * silu;
                    var dG = dy * Vector512.Load(u + i) * (sig + silu * (one - sig));
                    if (accumulate)
                    {
                        dU += Vector512.Load(du + i);
                        dG += Vector512.Load(dg + i);
                    }
                    dU.Store(du + i);
                    dG.Store(dg + i);
                }
            }
            else if (Simd.Active == SimdWidth.Portable)
            {
                var one = Vector<float>.One;
                for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var x = Vector.Load(g + i);
                    var dy = Vector.Load(d + i);
                    var sig = one / (one + FastExp.Exp(-x));
                    var silu = x * sig;
                    var dU = dy * silu;
                    var dG = dy * Vector.Load(u + i) * (sig + silu * (one - sig));
                    if (accumulate)
                    {
                        dU += Vector.Load(du + i);
                        dG += Vector.Load(dg + i);
                    }
                    dU.Store(du + i);
                    dG.Store(dg + i);
                }
            }
        }
        ScalarOpsBackward.SwiGlu(gate[i..], up[i..], dout[i..], dgate[i..], dup[i..], accumulate);
    }

    /// <summary>
    /// Backward of <see cref="Ops.GeGlu"/> (out = gelu_tanh(gate)·up): dup = dout·gelu(gate); dgate = dout·up·gelu'(gate).
    /// </summary>
    public static unsafe void GeGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, ReadOnlySpan<float> dout,
        Span<float> dgate, Span<float> dup, bool accumulate)
    {
        int i = 0, n = gate.Length;
        fixed (float* g = gate, u = up, d = dout, dg = dgate, du = dup)
        {
            if (Simd.Active == SimdWidth.Vector512)
            {
                for (; i <= n - 16; i += 16)
                {
                    var (value, slope) = Gelu(Vector512.Load(g + i));
                    var dy = Vector512.Load(d + i);
                    var dU = dy * value;
                    var dG = dy * Vector512.Load(u + i) * slope;
                    if (accumulate)
                    {
                        dU += Vector512.Load(du + i);
                        dG += Vector512.Load(dg + i);
                    }
                    dU.Store(du + i);
                    dG.Store(dg + i);
                }
            }
            else if (Simd.Active == SimdWidth.Portable)
            {
                for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var (value, slope) = Gelu(Vector.Load(g + i));
                    var dy = Vector.Load(d + i);
                    var dU = dy * value;
                    var dG = dy * Vector.Load(u + i) * slope;
                    if (accumulate)
                    {
                        dU += Vector.Load(du + i);
                        dG += Vector.Load(dg + i);
                    }
                    dU.Store(du + i);
                    dG.Store(dg + i);
                }
            }
        }
        ScalarOpsBackward.GeGlu(gate[i..], up[i..], dout[i..], dgate[i..], dup[i..], accumulate);
    }

    /// <summary>Backward of <see cref="Ops.GeluTanh"/>: dx = dout·gelu'(x).</summary>
    public static unsafe void GeluTanh(ReadOnlySpan<float> x, ReadOnlySpan<float> dout, Span<float> dx, bool accumulate)
    {
        int i = 0, n = x.Length;
        fixed (float* px = x, d = dout, pdx = dx)
        {
            if (Simd.Active == SimdWidth.Vector512)
            {
                for (; i <= n - 16; i += 16)
                {
                    var g = Vector512.Load(d + i) * Gelu(Vector512.Load(px + i)).Slope;
                    if (accumulate)
                        g += Vector512.Load(pdx + i);
                    g.Store(pdx + i);
                }
            }
            else if (Simd.Active == SimdWidth.Portable)
            {
                for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var g = Vector.Load(d + i) * Gelu(Vector.Load(px + i)).Slope;
                    if (accumulate)
                        g += Vector.Load(pdx + i);
                    g.Store(pdx + i);
                }
            }
        }
        ScalarOpsBackward.GeluTanh(x[i..], dout[i..], dx[i..], accumulate);
    }

    /// <summary>
    /// gelu_tanh(x) = x·s with s = <see cref="Ops.GeluGate(Vector512{float})"/> = sigmoid(z), z = 2√(2/π)·(x + 0.044715·x³),
    /// and its derivative s + x·s·(1 − s)·dz/dx, dz/dx = 2√(2/π)·(1 + 3·0.044715·x²).
    /// </summary>
    private static (Vector512<float> Value, Vector512<float> Slope) Gelu(Vector512<float> x)
    {
        var one = Vector512<float>.One;
        var s = Ops.GeluGate(x);
        var dz = Vector512.Create(Ops.GeluTwiceSqrt2OverPi) * (one + Vector512.Create(3 * Ops.GeluCubic) * x * x);
        return (x * s, s + x * s * (one - s) * dz);
    }

    private static (Vector<float> Value, Vector<float> Slope) Gelu(Vector<float> x)
    {
        var one = Vector<float>.One;
        var s = Ops.GeluGate(x);
        var dz = new Vector<float>(Ops.GeluTwiceSqrt2OverPi) * (one + new Vector<float>(3 * Ops.GeluCubic) * x * x);
        return (x * s, s + x * s * (one - s) * dz);
    }
}

/// <summary>Plain-loop twins of <see cref="OpsBackward"/>: the reference the fast versions are tested against.</summary>
public static class ScalarOpsBackward
{
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float weightOffset, float rstd, ReadOnlySpan<float> dy,
        Span<float> dx, bool accumulate, Span<float> dweight)
    {
        int n = x.Length;
        double dot = 0;
        for (int i = 0; i < n; i++)
        {
            dweight[i] += dy[i] * x[i] * rstd;
            dot += (double)dy[i] * (weight[i] + weightOffset) * x[i];
        }
        double c = (double)rstd * rstd * rstd * dot / n;
        for (int i = 0; i < n; i++)
        {
            float v = (float)(rstd * dy[i] * (weight[i] + weightOffset) - c * x[i]);
            dx[i] = accumulate ? dx[i] + v : v;
        }
    }

    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float mean, float rstd, ReadOnlySpan<float> dy,
        Span<float> dx, bool accumulate, Span<float> dweight, Span<float> dbias)
    {
        int n = x.Length;
        double meanG = 0, meanGx = 0;
        for (int i = 0; i < n; i++)
        {
            double xhat = (x[i] - mean) * rstd;
            dbias[i] += dy[i];
            dweight[i] += (float)(dy[i] * xhat);
            meanG += dy[i] * weight[i];
            meanGx += dy[i] * weight[i] * xhat;
        }
        meanG /= n;
        meanGx /= n;
        for (int i = 0; i < n; i++)
        {
            double xhat = (x[i] - mean) * rstd;
            float v = (float)(rstd * (dy[i] * weight[i] - meanG - xhat * meanGx));
            dx[i] = accumulate ? dx[i] + v : v;
        }
    }

    public static void SwiGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, ReadOnlySpan<float> dout,
        Span<float> dgate, Span<float> dup, bool accumulate)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            double g = gate[i], s = 1 / (1 + Math.Exp(-g));
            float du = (float)(dout[i] * g * s);
            float dg = (float)(dout[i] * up[i] * s * (1 + g * (1 - s)));
            dup[i] = accumulate ? dup[i] + du : du;
            dgate[i] = accumulate ? dgate[i] + dg : dg;
        }
    }

    public static void GeGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, ReadOnlySpan<float> dout,
        Span<float> dgate, Span<float> dup, bool accumulate)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            var (value, slope) = Gelu(gate[i]);
            float du = (float)(dout[i] * value);
            float dg = (float)(dout[i] * up[i] * slope);
            dup[i] = accumulate ? dup[i] + du : du;
            dgate[i] = accumulate ? dgate[i] + dg : dg;
        }
    }

    public static void GeluTanh(ReadOnlySpan<float> x, ReadOnlySpan<float> dout, Span<float> dx, bool accumulate)
    {
        for (int i = 0; i < x.Length; i++)
        {
            float v = (float)(dout[i] * Gelu(x[i]).Slope);
            dx[i] = accumulate ? dx[i] + v : v;
        }
    }

    /// <summary>0.5·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³), and its derivative.</summary>
    private static (double Value, double Slope) Gelu(double x)
    {
        double k = Math.Sqrt(2 / Math.PI), u = k * (x + 0.044715 * x * x * x), th = Math.Tanh(u);
        return (0.5 * x * (1 + th), 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * k * (1 + 3 * 0.044715 * x * x));
    }
}
