using System.Diagnostics;
using System.Numerics.Tensors;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;
using Tensor = Minnow.Tensors.Tensor;

namespace Minnow.Training;

public sealed unsafe partial class Tape
{
    /// <summary>Rows per chunk of a parameter-gradient reduction: fixed, so the summation order never depends on the thread count.</summary>
    private const int ReductionRows = 32;

    /// <summary>
    /// RMSNorm of every row of weight.Length values: y = x·rstd·(w + offset), rstd = 1/sqrt(mean(x²) + eps). The
    /// weight may be shorter than a row of x (Qwen3's per-head q/k norms over [n, heads·headDim]). Gemma passes offset 1.
    /// </summary>
    public Act RmsNorm(Act x, Tensor weight, float eps, float weightOffset = 0f)
    {
        long start = Stopwatch.GetTimestamp();
        int d = (int)weight.ElementCount;
        if (x.Cols % d != 0)
            throw new InvalidInputException($"RMSNorm '{weight.Name}' of {d} values applied to rows of {x.Cols}");
        int rows = x.Length / d;
        var dW = GradientOf(weight);
        var y = Allocate(x.Rows, x.Cols, RequiresGrad(x) || dW is not null);
        var rstd = Allocate(rows, 1, requiresGrad: false);
        float* xs = ValuePointer(x), ys = ValuePointer(y), rs = ValuePointer(rstd), w = weight.FloatPointer;
        Pool.For(rows, (first, end) =>
        {
            var wv = new ReadOnlySpan<float>(w, d);
            for (int r = first; r < end; r++)
                rs[r] = Ops.RmsNorm(new ReadOnlySpan<float>(xs + (long)r * d, d), wv, eps, new Span<float>(ys + (long)r * d, d), weightOffset);
        });
        Charge("rmsnorm", start);

        Record("rmsnorm", () =>
        {
            var dyv = Gradient(y);
            if (dyv.IsEmpty)
                return;
            fixed (float* dy = dyv)
            {
                float* dx = GradientTarget(x, out bool accumulate);
                if (dx == null)
                    dx = Scratch(x.Length);    // the input needs no gradient: compute it aside, only dw matters
                float* dw = RowReduction(rows, d, out int chunks);
                float* ddy = dy;
                Pool.For(chunks, (c0, c1) =>
                {
                    var wv = new ReadOnlySpan<float>(w, d);
                    for (int c = c0; c < c1; c++)
                    {
                        var partial = new Span<float>(dw + (long)c * d, d);
                        partial.Clear();
                        for (int r = c * ReductionRows; r < Math.Min(rows, (c + 1) * ReductionRows); r++)
                        {
                            long o = (long)r * d;
                            OpsBackward.RmsNorm(new ReadOnlySpan<float>(xs + o, d), wv, weightOffset, rs[r], new ReadOnlySpan<float>(ddy + o, d),
                                new Span<float>(dx + o, d), accumulate, partial);
                        }
                    }
                });
                SumPartials(dW, dw, chunks, d);
            }
        });
        return y;
    }

    /// <summary>
    /// LayerNorm of every row (GPT-2): y = (x − mean)·rstd·w + b with the biased variance.
    /// </summary>
    public Act LayerNorm(Act x, Tensor weight, Tensor bias, float eps)
    {
        long start = Stopwatch.GetTimestamp();
        int d = x.Cols, rows = x.Rows;
        if (weight.ElementCount != d || bias.ElementCount != d)
            throw new InvalidInputException($"LayerNorm '{weight.Name}' of {weight.ElementCount} values applied to rows of {d}");
        var dW = GradientOf(weight);
        var dB = GradientOf(bias);
        var y = Allocate(rows, d, RequiresGrad(x) || dW is not null || dB is not null);
        var stats = Allocate(rows, 2, requiresGrad: false);   // (mean, rstd) per row
        float* xs = ValuePointer(x), ys = ValuePointer(y), st = ValuePointer(stats), w = weight.FloatPointer, b = bias.FloatPointer;
        Pool.For(rows, (first, end) =>
        {
            for (int r = first; r < end; r++)
                (st[2 * r], st[2 * r + 1]) = Ops.LayerNorm(new ReadOnlySpan<float>(xs + (long)r * d, d), new ReadOnlySpan<float>(w, d),
                    new ReadOnlySpan<float>(b, d), eps, new Span<float>(ys + (long)r * d, d));
        });
        Charge("layernorm", start);

        Record("layernorm", () =>
        {
            var dyv = Gradient(y);
            if (dyv.IsEmpty)
                return;
            fixed (float* dy = dyv)
            {
                float* dx = GradientTarget(x, out bool accumulate);
                if (dx == null)
                    dx = Scratch(x.Length);
                // Partial sums of dw and db per chunk of rows: [chunks][2·d].
                float* partials = RowReduction(rows, 2 * d, out int chunks);
                float* ddy = dy;
                Pool.For(chunks, (c0, c1) =>
                {
                    var wv = new ReadOnlySpan<float>(w, d);
                    for (int c = c0; c < c1; c++)
                    {
                        var dwc = new Span<float>(partials + (long)c * 2 * d, d);
                        var dbc = new Span<float>(partials + (long)c * 2 * d + d, d);
                        dwc.Clear();
                        dbc.Clear();
                        for (int r = c * ReductionRows; r < Math.Min(rows, (c + 1) * ReductionRows); r++)
                        {
                            long o = (long)r * d;
                            OpsBackward.LayerNorm(new ReadOnlySpan<float>(xs + o, d), wv, st[2 * r], st[2 * r + 1], new ReadOnlySpan<float>(ddy + o, d),
                                new Span<float>(dx + o, d), accumulate, dwc, dbc);
                        }
                    }
                });
                for (int c = 0; c < chunks; c++)
                {
                    if (dW is not null)
                        TensorPrimitives.Add(dW.AsFloats(), new ReadOnlySpan<float>(partials + (long)c * 2 * d, d), dW.AsFloats());
                    if (dB is not null)
                        TensorPrimitives.Add(dB.AsFloats(), new ReadOnlySpan<float>(partials + (long)c * 2 * d + d, d), dB.AsFloats());
                }
            }
        });
        return y;
    }

    /// <summary>
    /// Room for per-chunk partial parameter gradients [chunks][width], so a reduction over rows is summed chunk by chunk
    /// in a fixed order. Without a trainable parameter the partials are still computed (the kernels produce them anyway) but never summed.
    /// </summary>
    private float* RowReduction(int rows, int width, out int chunks)
    {
        chunks = (rows + ReductionRows - 1) / ReductionRows;
        return _reduction.Take((long)chunks * width);
    }

    /// <summary>gradient += Σ_c partials[c], in chunk order.</summary>
    private static void SumPartials(Tensor? gradient, float* partials, int chunks, int width)
    {
        if (gradient is null)
            return;
        var g = gradient.AsFloats();
        for (int c = 0; c < chunks; c++)
            TensorPrimitives.Add(g, new ReadOnlySpan<float>(partials + (long)c * width, width), g);
    }
}
