using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Row-wise operations of a transformer layer. The fast versions use TensorPrimitives (SIMD on every CPU);
/// each has a plain scalar twin in <see cref="ScalarOps"/> that the tests compare it with.
/// </summary>
public static class Ops
{
    /// <summary>
    /// y = x / sqrt(mean(x²) + eps) · (weight + weightOffset). Gemma stores w−1, so it passes offset 1.
    /// Returns 1/sqrt(mean(x²) + eps), which the backward pass needs.
    /// </summary>
    public static float RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y, float weightOffset = 0f)
    {
        float scale = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(x) / x.Length + eps);
        TensorPrimitives.Multiply(x, scale, y);
        if (weightOffset == 0f)
        {
            TensorPrimitives.Multiply(y, weight, y);
            return scale;
        }
        for (int i = 0; i < y.Length; i++)
            y[i] *= weight[i] + weightOffset;
        return scale;
    }

    /// <summary>In-place softmax, stable (subtracts the maximum first).</summary>
    public static void Softmax(Span<float> x)
    {
        if (x.Length == 0)
            return;
        var (_, sum) = ExpShifted(x);
        TensorPrimitives.Multiply(x, 1f / sum, x);
    }

    /// <summary>
    /// x ← exp(x − max x), the softmax before its division; returns the max and the sum of the new values, so parts
    /// of one softmax computed apart can be merged (attention over a split cache). x must not be empty.
    /// </summary>
    public static (float Max, float Sum) ExpShifted(Span<float> x)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        TensorPrimitives.Exp(x, x);
        return (max, TensorPrimitives.Sum(x));
    }

    /// <summary>gate ← silu(gate) · up = gate·sigmoid(gate)·up (the SwiGLU feed-forward's elementwise part), in one pass.</summary>
    public static unsafe void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        int i = 0, n = gate.Length;
        fixed (float* g = gate, u = up)
        {
            if (Simd.Active == SimdWidth.Vector512)
            {
                for (; i <= n - 16; i += 16)
                {
                    var x = Vector512.Load(g + i);
                    (x * (Vector512<float>.One / (Vector512<float>.One + FastExp.Exp(-x))) * Vector512.Load(u + i)).Store(g + i);
                }
            }
            else if (Simd.Active == SimdWidth.Portable)
            {
                for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var x = Vector.Load(g + i);
                    (x * (Vector<float>.One / (Vector<float>.One + FastExp.Exp(-x))) * Vector.Load(u + i)).Store(g + i);
                }
            }
        }
        for (; i < n; i++)
            gate[i] = gate[i] * (1f / (1f + MathF.Exp(-gate[i]))) * up[i];
    }

    /// <summary>x ← x + y.</summary>
    public static void Add(Span<float> x, ReadOnlySpan<float> y) => TensorPrimitives.Add(x, y, x);

    /// <summary>Adds <paramref name="bias"/> to every row of <paramref name="rows"/> (row length = bias length).</summary>
    public static void AddBias(Span<float> rows, ReadOnlySpan<float> bias)
    {
        for (int start = 0; start + bias.Length <= rows.Length; start += bias.Length)
            TensorPrimitives.Add(rows.Slice(start, bias.Length), bias, rows.Slice(start, bias.Length));
    }

    /// <summary>x ← x · factor.</summary>
    public static void Scale(Span<float> x, float factor) => TensorPrimitives.Multiply(x, factor, x);

    /// <summary>gate ← gelu_tanh(gate) · up (Gemma's GeGLU feed-forward).</summary>
    public static void GeGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        GeluTanh(gate);
        TensorPrimitives.Multiply(gate, up, gate);
    }

    /// <summary>
    /// x ← gelu_tanh(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), computed as x·sigmoid(2·√(2/π)·(x + 0.044715·x³)),
    /// the same function (PyTorch's gelu(approximate="tanh"), GPT-2's gelu_new), in one pass.
    /// </summary>
    public static unsafe void GeluTanh(Span<float> x)
    {
        int i = 0, n = x.Length;
        fixed (float* p = x)
        {
            if (Simd.Active == SimdWidth.Vector512)
            {
                for (; i <= n - 16; i += 16)
                {
                    var v = Vector512.Load(p + i);
                    (v * GeluGate(v)).Store(p + i);
                }
            }
            else if (Simd.Active == SimdWidth.Portable)
            {
                for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var v = Vector.Load(p + i);
                    (v * GeluGate(v)).Store(p + i);
                }
            }
        }
        for (; i < n; i++)
            x[i] *= GeluGate(x[i]);
    }

    /// <summary>sigmoid(2·√(2/π)·(x + 0.044715·x³)): gelu_tanh(x) = x·GeluGate(x) (the backward pass needs it alone).</summary>
    internal static Vector512<float> GeluGate(Vector512<float> x)
    {
        var z = Vector512.Create(GeluTwiceSqrt2OverPi) * x * (Vector512<float>.One + Vector512.Create(GeluCubic) * x * x);
        return Vector512<float>.One / (Vector512<float>.One + FastExp.Exp(-z));
    }

    internal static Vector<float> GeluGate(Vector<float> x)
    {
        var z = new Vector<float>(GeluTwiceSqrt2OverPi) * x * (Vector<float>.One + new Vector<float>(GeluCubic) * x * x);
        return Vector<float>.One / (Vector<float>.One + FastExp.Exp(-z));
    }

    internal static float GeluGate(float x) => 1f / (1f + MathF.Exp(-GeluTwiceSqrt2OverPi * x * (1f + GeluCubic * x * x)));

    internal const float GeluCubic = 0.044715f;
    internal const float GeluTwiceSqrt2OverPi = 1.5957691216057308f;

    /// <summary>x ← cap·tanh(x/cap): Gemma 2's soft-capping of attention scores and logits.</summary>
    public static void SoftCap(Span<float> x, float cap)
    {
        TensorPrimitives.Multiply(x, 1f / cap, x);
        TensorPrimitives.Tanh(x, x);
        TensorPrimitives.Multiply(x, cap, x);
    }

    /// <summary>
    /// y = (x − mean) / sqrt(var + eps) · weight + bias, with the biased variance (GPT-2's LayerNorm).
    /// Returns the mean and 1/sqrt(var + eps), which the backward pass needs.
    /// </summary>
    public static unsafe (float Mean, float Rstd) LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, float eps, Span<float> y)
    {
        // The mean and variance by TensorPrimitives, the output in one fused pass (rows are short: fewer passes matter).
        int n = x.Length, i = 0;
        float mean = TensorPrimitives.Sum(x) / n;
        TensorPrimitives.Subtract(x, mean, y);
        float rstd = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(y) / n + eps);
        fixed (float* py = y, pw = weight, pb = bias)
        {
            if (Simd.Active == SimdWidth.Vector512)
            {
                var r = Vector512.Create(rstd);
                for (; i <= n - 16; i += 16)
                    Vector512.FusedMultiplyAdd(Vector512.Load(py + i) * r, Vector512.Load(pw + i), Vector512.Load(pb + i)).Store(py + i);
            }
            else if (Simd.Active == SimdWidth.Portable)
            {
                var r = new Vector<float>(rstd);
                for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                    Vector.FusedMultiplyAdd(Vector.Load(py + i) * r, Vector.Load(pw + i), Vector.Load(pb + i)).Store(py + i);
            }
            for (; i < n; i++)
                py[i] = py[i] * rstd * pw[i] + pb[i];
        }
        return (mean, rstd);
    }

    /// <summary>
    /// Rotates pairs of one head vector by position-dependent angles. <paramref name="cos"/>/<paramref name="sin"/>
    /// hold headDim/2 values for this position. Interleaved style rotates (x[2i], x[2i+1]) (llama2.c, GGUF);
    /// half style rotates (x[i], x[i+d/2]) (HF's rotate_half).
    /// </summary>
    public static void Rope(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, bool interleaved)
    {
        int half = head.Length / 2;
        if (interleaved)
        {
            for (int i = 0; i < half; i++)
            {
                float a = head[2 * i], b = head[2 * i + 1];
                head[2 * i] = a * cos[i] - b * sin[i];
                head[2 * i + 1] = a * sin[i] + b * cos[i];
            }
        }
        else
        {
            for (int i = 0; i < half; i++)
            {
                float a = head[i], b = head[i + half];
                head[i] = a * cos[i] - b * sin[i];
                head[i + half] = a * sin[i] + b * cos[i];
            }
        }
    }
}

/// <summary>Plain-loop twins of <see cref="Ops"/>: the reference the fast versions are tested against.</summary>
public static class ScalarOps
{
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y, float weightOffset = 0f)
    {
        double ss = 0;
        for (int i = 0; i < x.Length; i++)
            ss += (double)x[i] * x[i];
        float scale = (float)(1.0 / Math.Sqrt(ss / x.Length + eps));
        for (int i = 0; i < x.Length; i++)
            y[i] = x[i] * scale * (weight[i] + weightOffset);
    }

    public static void Softmax(Span<float> x)
    {
        if (x.Length == 0)
            return;
        float max = float.NegativeInfinity;
        foreach (float v in x)
            max = Math.Max(max, v);
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = MathF.Exp(x[i] - max);
            sum += x[i];
        }
        for (int i = 0; i < x.Length; i++)
            x[i] = (float)(x[i] / sum);
    }

    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            float g = gate[i];
            gate[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    public static void GeGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        GeluTanh(gate);
        for (int i = 0; i < gate.Length; i++)
            gate[i] *= up[i];
    }

    public static void GeluTanh(Span<float> x)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            x[i] = (float)(0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))));
        }
    }

    public static void SoftCap(Span<float> x, float cap)
    {
        for (int i = 0; i < x.Length; i++)
            x[i] = cap * MathF.Tanh(x[i] / cap);
    }

    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, float eps, Span<float> y)
    {
        double mean = 0;
        foreach (float v in x) mean += v;
        mean /= x.Length;
        double variance = 0;
        foreach (float v in x) variance += (v - mean) * (v - mean);
        variance /= x.Length;
        double inv = 1 / Math.Sqrt(variance + eps);
        for (int i = 0; i < x.Length; i++)
            y[i] = (float)((x[i] - mean) * inv * weight[i] + bias[i]);
    }
}
