using System.Numerics.Tensors;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Backward passes of the row-wise operations in <see cref="Ops"/>, one row (or one block of elements) per call.
/// Input gradients are written, or added when <c>accumulate</c> is true; parameter gradients are always added.
/// The fast versions use TensorPrimitives (SIMD on every CPU); <see cref="ScalarOpsBackward"/> holds plain twins.
/// </summary>
public static class OpsBackward
{
    /// <summary>Elements per block of the elementwise backward passes (temporaries live on the stack).</summary>
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
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float mean, float rstd, ReadOnlySpan<float> dy,
        Span<float> dx, bool accumulate, Span<float> dweight, Span<float> dbias)
    {
        int n = x.Length;
        Span<float> xhat = n <= Block ? stackalloc float[n] : new float[n];
        Span<float> g = n <= Block ? stackalloc float[n] : new float[n];
        TensorPrimitives.Subtract(x, mean, xhat);
        TensorPrimitives.Multiply(xhat, rstd, xhat);
        TensorPrimitives.Add(dbias, dy, dbias);
        TensorPrimitives.MultiplyAdd(dy, xhat, dweight, dweight);
        TensorPrimitives.Multiply(dy, weight, g);
        float meanG = TensorPrimitives.Sum(g) / n;
        float meanGx = TensorPrimitives.Dot(g, xhat) / n;
        // dx = rstd·(g − meanG − x̂·meanGx)
        TensorPrimitives.MultiplyAdd(xhat, -meanGx, g, g);
        TensorPrimitives.Subtract(g, meanG, g);
        TensorPrimitives.Multiply(g, rstd, g);
        if (accumulate)
            TensorPrimitives.Add(dx, g, dx);
        else
            g.CopyTo(dx);
    }

    /// <summary>
    /// Backward of <see cref="Ops.SwiGlu"/> (out = silu(gate)·up). With s = sigmoid(gate):
    /// dup = dout·silu(gate); dgate = dout·up·silu'(gate), silu' = s + silu·(1 − s).
    /// </summary>
    public static void SwiGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, ReadOnlySpan<float> dout,
        Span<float> dgate, Span<float> dup, bool accumulate)
    {
        Span<float> s = stackalloc float[Math.Min(Block, gate.Length)];
        Span<float> act = stackalloc float[s.Length];
        Span<float> t = stackalloc float[s.Length];
        for (int start = 0; start < gate.Length; start += Block)
        {
            int len = Math.Min(Block, gate.Length - start);
            var g = gate.Slice(start, len);
            var d = dout.Slice(start, len);
            var ss = s[..len];
            var silu = act[..len];
            var ts = t[..len];
            TensorPrimitives.Sigmoid(g, ss);
            TensorPrimitives.Multiply(g, ss, silu);
            Store(d, silu, dup.Slice(start, len), accumulate);
            TensorPrimitives.Subtract(1f, ss, ts);
            TensorPrimitives.MultiplyAdd(silu, ts, ss, ts);          // silu'(g)
            TensorPrimitives.Multiply(ts, up.Slice(start, len), ts);
            Store(d, ts, dgate.Slice(start, len), accumulate);
        }
    }

    /// <summary>
    /// Backward of <see cref="Ops.GeGlu"/> (out = gelu_tanh(gate)·up): dup = dout·gelu(gate); dgate = dout·up·gelu'(gate).
    /// </summary>
    public static void GeGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, ReadOnlySpan<float> dout,
        Span<float> dgate, Span<float> dup, bool accumulate)
    {
        Span<float> value = stackalloc float[Math.Min(Block, gate.Length)];
        Span<float> slope = stackalloc float[value.Length];
        for (int start = 0; start < gate.Length; start += Block)
        {
            int len = Math.Min(Block, gate.Length - start);
            var d = dout.Slice(start, len);
            var v = value[..len];
            var sl = slope[..len];
            GeluTanhWithSlope(gate.Slice(start, len), v, sl);
            Store(d, v, dup.Slice(start, len), accumulate);
            TensorPrimitives.Multiply(sl, up.Slice(start, len), sl);
            Store(d, sl, dgate.Slice(start, len), accumulate);
        }
    }

    /// <summary>Backward of <see cref="Ops.GeluTanh"/>: dx = dout·gelu'(x).</summary>
    public static void GeluTanh(ReadOnlySpan<float> x, ReadOnlySpan<float> dout, Span<float> dx, bool accumulate)
    {
        Span<float> value = stackalloc float[Math.Min(Block, x.Length)];
        Span<float> slope = stackalloc float[value.Length];
        for (int start = 0; start < x.Length; start += Block)
        {
            int len = Math.Min(Block, x.Length - start);
            GeluTanhWithSlope(x.Slice(start, len), value[..len], slope[..len]);
            Store(dout.Slice(start, len), slope[..len], dx.Slice(start, len), accumulate);
        }
    }

    /// <summary>
    /// gelu_tanh(x) = x·s with s = sigmoid(z), z = 2√(2/π)·(x + 0.044715·x³) (as <see cref="Ops.GeluTanh"/> computes it),
    /// and its derivative s + x·s·(1 − s)·dz/dx with dz/dx = 2√(2/π)·(1 + 3·0.044715·x²). Blocks of at most <see cref="Block"/>.
    /// </summary>
    private static void GeluTanhWithSlope(ReadOnlySpan<float> x, Span<float> value, Span<float> slope)
    {
        const float c = Ops.GeluTwiceSqrt2OverPi, a = 0.044715f;
        Span<float> oneMinusS = stackalloc float[x.Length];
        TensorPrimitives.Multiply(x, x, slope);                     // x²
        TensorPrimitives.Multiply(slope, a, value);
        TensorPrimitives.Add(value, 1f, value);
        TensorPrimitives.Multiply(value, x, value);
        TensorPrimitives.Multiply(value, c, value);                 // z
        TensorPrimitives.Sigmoid(value, value);                     // s
        TensorPrimitives.Subtract(1f, value, oneMinusS);
        TensorPrimitives.Multiply(slope, 3 * a * c, slope);
        TensorPrimitives.Add(slope, c, slope);                      // dz/dx
        TensorPrimitives.Multiply(slope, x, slope);
        TensorPrimitives.Multiply(slope, value, slope);
        TensorPrimitives.MultiplyAdd(slope, oneMinusS, value, slope);
        TensorPrimitives.Multiply(value, x, value);                 // x·s
    }

    /// <summary>dst = a·b, or dst += a·b.</summary>
    private static void Store(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst, bool accumulate)
    {
        if (accumulate)
            TensorPrimitives.MultiplyAdd(a, b, dst, dst);
        else
            TensorPrimitives.Multiply(a, b, dst);
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
