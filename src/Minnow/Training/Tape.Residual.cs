using System.Diagnostics;
using System.Numerics.Tensors;

namespace Minnow.Training;

public sealed unsafe partial class Tape
{
    /// <summary>
    /// The residual stream's update x + y, as a new activation. x is consumed: d x = d result exactly, so the result
    /// shares x's gradient buffer (no copy in the backward pass), and x may not be an input of later operations.
    /// Backward: dy (+)= d result.
    /// </summary>
    public Act Residual(Act x, Act y)
    {
        long start = Stopwatch.GetTimestamp();
        if (x.Rows != y.Rows || x.Cols != y.Cols)
            throw new InvalidInputException($"residual add of [{x.Rows}, {x.Cols}] and [{y.Rows}, {y.Cols}]");
        bool shares = RequiresGrad(x);
        var output = Allocate(x.Rows, x.Cols, requiresGrad: !shares && RequiresGrad(y));
        TensorPrimitives.Add(Value(x), Value(y), Value(output));
        if (shares && RecordsGradients)
            ShareGradient(output, x);
        Charge("residual", start);

        Record("residual", () =>
        {
            var dout = Gradient(output);
            if (dout.IsEmpty)
                return;
            float* dy = GradientTarget(y, out bool accumulate);
            if (dy == null)
                return;
            var target = new Span<float>(dy, y.Length);
            if (accumulate)
                TensorPrimitives.Add(target, dout, target);
            else
                dout.CopyTo(target);
        });
        return output;
    }
}
