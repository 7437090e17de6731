using System.Numerics.Tensors;

namespace Minnow.Tensors.Kernels;

/// <summary>Softmax cross-entropy of one row of logits, fused with its gradient (the classifier's loss).</summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>
    /// Returns −log softmax(logits)[target] = log Σ exp(logits) − logits[target], and overwrites the logits with its
    /// gradient times <paramref name="gradScale"/>: gradScale·(softmax(logits) − onehot(target)).
    /// </summary>
    public static float LossAndGradient(Span<float> logits, int target, float gradScale)
    {
        float max = TensorPrimitives.Max(logits);
        float shifted = logits[target] - max;
        TensorPrimitives.Subtract(logits, max, logits);
        TensorPrimitives.Exp(logits, logits);
        float sum = TensorPrimitives.Sum(logits);
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
