using System.Numerics;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Optimizer updates of one parameter block, each a single fused pass over the values, gradients and state (they
/// are bound by memory bandwidth, so one pass matters more than vector width: the portable Vector&lt;float&gt; path is
/// used on every CPU). <see cref="ScalarOptimizerUpdates"/> holds the plain twins.
/// </summary>
public static class OptimizerUpdates
{
    /// <summary>
    /// AdamW, in PyTorch's order: p ← p·decay (decay = 1 − lr·weightDecay, 1 for none); m ← β1·m + (1−β1)·g;
    /// v ← β2·v + (1−β2)·g²; p ← p − stepSize·m / (sqrt(v)·invSqrtBias2 + eps), with stepSize = lr/(1−β1^t) and
    /// invSqrtBias2 = 1/sqrt(1−β2^t).
    /// </summary>
    public static void AdamW(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float decay, float beta1, float beta2, float stepSize, float invSqrtBias2, float eps)
    {
        if (Simd.Active == SimdWidth.Scalar)
        {
            ScalarOptimizerUpdates.AdamW(p, g, m, v, decay, beta1, beta2, stepSize, invSqrtBias2, eps);
            return;
        }
        int w = Vector<float>.Count, i = 0;
        var vd = new Vector<float>(decay);
        var vb1 = new Vector<float>(beta1);
        var vb1c = new Vector<float>(1 - beta1);
        var vb2 = new Vector<float>(beta2);
        var vb2c = new Vector<float>(1 - beta2);
        var vs = new Vector<float>(stepSize);
        var vc = new Vector<float>(invSqrtBias2);
        var ve = new Vector<float>(eps);
        for (; i <= p.Length - w; i += w)
        {
            var gi = new Vector<float>(g[i..]);
            var mi = vb1 * new Vector<float>(m[i..]) + vb1c * gi;
            var vi = vb2 * new Vector<float>(v[i..]) + vb2c * gi * gi;
            var pi = new Vector<float>(p[i..]) * vd;
            pi -= vs * mi / (Vector.SquareRoot(vi) * vc + ve);
            mi.CopyTo(m[i..]);
            vi.CopyTo(v[i..]);
            pi.CopyTo(p[i..]);
        }
        ScalarOptimizerUpdates.AdamW(p[i..], g[i..], m[i..], v[i..], decay, beta1, beta2, stepSize, invSqrtBias2, eps);
    }

    /// <summary>
    /// SGD with momentum (PyTorch's, no dampening): g' = g + weightDecay·p; buf ← momentum·buf + g'; p ← p − lr·buf.
    /// </summary>
    public static void Sgd(Span<float> p, ReadOnlySpan<float> g, Span<float> buffer, float lr, float momentum, float weightDecay)
    {
        if (Simd.Active == SimdWidth.Scalar)
        {
            ScalarOptimizerUpdates.Sgd(p, g, buffer, lr, momentum, weightDecay);
            return;
        }
        int w = Vector<float>.Count, i = 0;
        var vlr = new Vector<float>(lr);
        var vm = new Vector<float>(momentum);
        var vwd = new Vector<float>(weightDecay);
        for (; i <= p.Length - w; i += w)
        {
            var pi = new Vector<float>(p[i..]);
            var bi = vm * new Vector<float>(buffer[i..]) + new Vector<float>(g[i..]) + vwd * pi;
            bi.CopyTo(buffer[i..]);
            (pi - vlr * bi).CopyTo(p[i..]);
        }
        ScalarOptimizerUpdates.Sgd(p[i..], g[i..], buffer[i..], lr, momentum, weightDecay);
    }
}

/// <summary>Plain-loop twins of <see cref="OptimizerUpdates"/>.</summary>
public static class ScalarOptimizerUpdates
{
    public static void AdamW(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float decay, float beta1, float beta2, float stepSize, float invSqrtBias2, float eps)
    {
        for (int i = 0; i < p.Length; i++)
        {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i];
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
            p[i] = p[i] * decay - stepSize * m[i] / (MathF.Sqrt(v[i]) * invSqrtBias2 + eps);
        }
    }

    public static void Sgd(Span<float> p, ReadOnlySpan<float> g, Span<float> buffer, float lr, float momentum, float weightDecay)
    {
        for (int i = 0; i < p.Length; i++)
        {
            buffer[i] = momentum * buffer[i] + g[i] + weightDecay * p[i];
            p[i] -= lr * buffer[i];
        }
    }
}
