using System.Diagnostics;
using System.Numerics.Tensors;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;
using Tensor = Minnow.Tensors.Tensor;

namespace Minnow.Training;

public sealed unsafe partial class Tape
{
    /// <summary>
    /// y = x·Wᵀ + b for x [n, in], W [out, in] (PyTorch's Linear layout), optional b [out]; y is [n, out].
    /// Backward: dx (+)= dy·W; dW += dyᵀ·x; db += Σ_t dy[t].
    /// </summary>
    public Act Linear(Act x, Tensor weight, Tensor? bias = null)
    {
        long start = Stopwatch.GetTimestamp();
        int n = x.Rows, inDim = weight.Columns, outDim = weight.Rows;
        if (x.Cols != inDim)
            throw new InvalidInputException($"linear '{weight.Name}' [{outDim}, {inDim}] applied to rows of {x.Cols}");
        var dW = GradientOf(weight);
        var dB = GradientOf(bias);
        var y = Allocate(n, outDim, RequiresGrad(x) || dW is not null || dB is not null);
        float* xs = ValuePointer(x), ys = ValuePointer(y);
        MatMul.Compute(weight, Value(x), Value(y), n, Pool);
        if (bias is not null)
            Ops.AddBias(Value(y), bias.AsFloats());
        Charge("linear", start);

        Record("linear", () =>
        {
            var dy = Gradient(y);
            if (dy.IsEmpty)
                return;
            fixed (float* pdy = dy)
            {
                float* dx = GradientTarget(x, out bool accumulate);
                if (dx != null)
                    MatMulBackward.InputGradient(weight.FloatPointer, pdy, dx, n, outDim, inDim, accumulate, Pool);
                if (dW is not null)
                    MatMulBackward.WeightGradient(pdy, xs, dW.FloatPointer, n, outDim, inDim, Pool);
            }
            if (dB is not null)
            {
                var db = dB.AsFloats();
                for (int t = 0; t < n; t++)
                    TensorPrimitives.Add(db, dy.Slice(t * outDim, outDim), db);
            }
        });
        return y;
    }
}
