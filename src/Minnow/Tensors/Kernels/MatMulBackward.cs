namespace Minnow.Tensors.Kernels;

/// <summary>
/// The two gradients of y = x·Wᵀ (<see cref="MatMul"/>) for W [out, in], x [tokens, in], y [tokens, out]:
/// dX = dY·W and dW += dYᵀ·X, both as a <see cref="BlockedGemm"/> whose B rows are contiguous (W's rows for dX,
/// X's rows for dW) and whose A is dY read either way. Results do not depend on the thread count.
/// </summary>
public static unsafe class MatMulBackward
{
    /// <summary>dx[t, i] (+)= Σ_o dy[t, o]·w[o, i]; overwrites dx unless <paramref name="accumulate"/>.</summary>
    public static void InputGradient(float* w, float* dy, float* dx, int tokens, int outDim, int inDim, bool accumulate, WorkerPool pool)
    {
        if (Simd.Active == SimdWidth.Scalar)
            InputGradientScalar(w, dy, dx, tokens, outDim, inDim, accumulate);
        else
            BlockedGemm.Run(new GemmOperands(dy, outDim, 1, w, inDim, 1, dx, inDim, tokens, inDim, outDim), accumulate, pool);
    }

    /// <summary>dw[o, i] += Σ_t dy[t, o]·x[t, i].</summary>
    public static void WeightGradient(float* dy, float* x, float* dw, int tokens, int outDim, int inDim, WorkerPool pool)
    {
        if (Simd.Active == SimdWidth.Scalar)
            WeightGradientScalar(dy, x, dw, tokens, outDim, inDim);
        else
            BlockedGemm.Run(new GemmOperands(dy, 1, outDim, x, inDim, 1, dw, inDim, outDim, inDim, tokens), accumulate: true, pool);
    }

    /// <summary>The scalar twin of <see cref="InputGradient"/>.</summary>
    public static void InputGradientScalar(float* w, float* dy, float* dx, int tokens, int outDim, int inDim, bool accumulate)
    {
        for (int t = 0; t < tokens; t++)
            for (int i = 0; i < inDim; i++)
            {
                float sum = accumulate ? dx[(long)t * inDim + i] : 0f;
                for (int o = 0; o < outDim; o++)
                    sum += dy[(long)t * outDim + o] * w[(long)o * inDim + i];
                dx[(long)t * inDim + i] = sum;
            }
    }

    /// <summary>The scalar twin of <see cref="WeightGradient"/>.</summary>
    public static void WeightGradientScalar(float* dy, float* x, float* dw, int tokens, int outDim, int inDim)
    {
        for (int o = 0; o < outDim; o++)
            for (int i = 0; i < inDim; i++)
            {
                float sum = dw[(long)o * inDim + i];
                for (int t = 0; t < tokens; t++)
                    sum += dy[(long)t * outDim + o] * x[(long)t * inDim + i];
                dw[(long)o * inDim + i] = sum;
            }
    }
}
