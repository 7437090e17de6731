using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Minnow.Tensors.Kernels;

/// <summary>Softmax cross-entropy of one row of logits, fused with its gradient (the classifier's loss).</summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>
    /// Returns −log softmax(logits)[target] = log Σ exp(logits) − logits[target], and overwrites the logits with its
    /// gradient times <paramref name="gradScale"/>: gradScale·(softmax(logits) − onehot(target)).
    /// </summary>
    public static unsafe float LossAndGradient(Span<float> logits, int target, float gradScale)
    {
        float max = TensorPrimitives.Max(logits);
        float shifted = logits[target] - max;
        // One pass: logits[i] ← exp(logits[i] − max), summed on the way.
        int i = 0, n = logits.Length;
        float sum = 0;
        fixed (float* z = logits)
        {
            if (Simd.Active == SimdWidth.Vector512)
            {
                var m = Vector512.Create(max);
                var acc = Vector512<float>.Zero;
                for (; i <= n - 16; i += 16)
                {
                    var e = FastExp.Exp(Vector512.Load(z + i) - m);
                    e.Store(z + i);
                    acc += e;
                }
                sum = Vector512.Sum(acc);
            }
            else if (Simd.Active == SimdWidth.Portable)
            {
                var m = new Vector<float>(max);
                var acc = Vector<float>.Zero;
                for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var e = FastExp.Exp(Vector.Load(z + i) - m);
                    e.Store(z + i);
                    acc += e;
                }
                sum = Vector.Sum(acc);
            }
            for (; i < n; i++)
                sum += z[i] = MathF.Exp(z[i] - max);
        }
        TensorPrimitives.Multiply(logits, gradScale / sum, logits);
        logits[target] -= gradScale;
        return MathF.Log(sum) - shifted;
    }

    /// <summary>The scalar twin of <see cref="LossAndGradient"/>, in float64.</summary>
    public static float LossAndGradientScalar(Span<float> logits, int target, float gradScale)
    {
        double max = double.NegativeInfinity;
        foreach (float z in logits)
            max = Math.Max(max, z);
        double sum = 0;
        foreach (float z in logits)
            sum += Math.Exp(z - max);
        double loss = Math.Log(sum) - (logits[target] - max);
        for (int i = 0; i < logits.Length; i++)
            logits[i] = (float)(gradScale * (Math.Exp(logits[i] - max) / sum - (i == target ? 1 : 0)));
        return (float)loss;
    }
}
