using System.Numerics.Tensors;

namespace Minnow.Training;

/// <summary>Global gradient-norm clipping over the trainable parameters (PyTorch's clip_grad_norm_ with the L2 norm).</summary>
public static class GradientClipping
{
    /// <summary>Squares are summed per block of this many values in fp32, the blocks in float64, always in the same order.</summary>
    private const int Block = 4096;

    /// <summary>sqrt(Σ g²) over every trainable parameter's gradient.</summary>
    public static double GlobalNorm(ParameterStore store)
    {
        double sum = 0;
        foreach (var p in store.Trainable)
        {
            var g = p.Gradient.AsFloats();
            for (int start = 0; start < g.Length; start += Block)
                sum += TensorPrimitives.SumOfSquares(g.Slice(start, Math.Min(Block, g.Length - start)));
        }
        return Math.Sqrt(sum);
    }

    /// <summary>
    /// Clips before the optimizer step: coef = maxNorm / (norm + 1e-6), and if coef &lt; 1 every trainable gradient is
    /// multiplied by it. Returns the norm before clipping and the factor applied (min(coef, 1)).
    /// </summary>
    public static (double Norm, double Coefficient) ClipGlobalNorm(ParameterStore store, double maxNorm)
    {
        double norm = GlobalNorm(store);
        double coef = maxNorm / (norm + 1e-6);
        if (coef >= 1)
            return (norm, 1.0);
        foreach (var p in store.Trainable)
            TensorPrimitives.Multiply(p.Gradient.AsFloats(), (float)coef, p.Gradient.AsFloats());
        return (norm, coef);
    }
}
