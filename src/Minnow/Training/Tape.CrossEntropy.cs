using System.Diagnostics;
using Minnow.Tensors.Kernels;
using Tensor = Minnow.Tensors.Tensor;

namespace Minnow.Training;

public sealed unsafe partial class Tape
{
    /// <summary>
    /// Floats of logits held at once by <see cref="CrossEntropy"/> (the row block): 32 MB by default, 256 rows of a
    /// 32000-word vocabulary. Each block reads the classifier twice and its gradient once, so larger blocks pay less for
    /// memory traffic; measured on Llama 15M, 128-row blocks were ~8% slower per step and whole batches (256 MB) slower too.
    /// </summary>
    internal int LogitBlockFloats { get; set; } = 8 << 20;

    /// <summary>
    /// Mean token cross-entropy (natural log) of the classifier's logits z = x·Wᵀ (soft-capped to cap·tanh(z/cap) if
    /// <paramref name="softCap"/> &gt; 0) against <paramref name="targets"/>: x [n, D], W [V, D]. Fused as llm.c's
    /// classifier: logits are made one row block at a time (at most <see cref="LogitBlockFloats"/> floats) and turned into
    /// their gradient in place, which is pushed straight into dW and dx, so the [n, V] logits never exist. The
    /// gradient is that of <paramref name="lossScale"/>·loss (e.g. 1/k for k accumulated micro-batches). Because it is
    /// computed here, a tape that records gradients must go on to <see cref="Backward"/>; evaluate with
    /// <see cref="RecordsGradients"/> false.
    /// </summary>
    public float CrossEntropy(Act x, Tensor classifier, int[] targets, float softCap = 0f, float lossScale = 1f)
    {
        int n = x.Rows, d = x.Cols, vocab = classifier.Rows;
        if (classifier.Columns != d || targets.Length != n)
            throw new InvalidInputException($"cross-entropy of [{n}, {d}] through '{classifier.Name}' [{vocab}, {classifier.Columns}] against {targets.Length} targets");
        foreach (int target in targets)
            if ((uint)target >= (uint)vocab)
                throw new InvalidInputException($"target id {target} is outside the vocabulary [0, {vocab})");
        var dW = GradientOf(classifier);
        bool accumulate = false;
        float* dx = RecordsGradients ? GradientTarget(x, out accumulate) : null;
        bool backward = dx != null || dW is not null;
        // Rows per block: whole panels of 32 tokens for the forward GEMM when the block is that large.
        int block = Math.Max(1, LogitBlockFloats / vocab);
        block = Math.Min(n, block >= 32 ? block / 32 * 32 : block);
        float* logits = Scratch((long)block * vocab + (softCap > 0 ? (long)block * vocab : 0));
        float* capped = logits + (long)block * vocab;
        float* xs = ValuePointer(x);
        var losses = new float[n];
        float gradScale = lossScale / n;
        for (int r0 = 0; r0 < n; r0 += block)
        {
            int rows = Math.Min(block, n - r0);
            long start = Stopwatch.GetTimestamp();
            MatMul.Compute(classifier, new ReadOnlySpan<float>(xs + (long)r0 * d, rows * d), new Span<float>(logits, rows * vocab), rows, Pool);
            Charge("classifier matmul", start);

            start = Stopwatch.GetTimestamp();
            Pool.For(rows, (first, end) =>
            {
                for (int r = first; r < end; r++)
                {
                    var z = new Span<float>(logits + (long)r * vocab, vocab);
                    if (softCap > 0)
                    {
                        Ops.SoftCap(z, softCap);
                        z.CopyTo(new Span<float>(capped + (long)r * vocab, vocab));
                    }
                    losses[r0 + r] = SoftmaxCrossEntropy.LossAndGradient(z, targets[r0 + r], gradScale);
                    if (softCap > 0)
                    {
                        // Through the cap: d z/d raw = 1 − tanh² = 1 − (z/cap)².
                        var c = new Span<float>(capped + (long)r * vocab, vocab);
                        for (int v = 0; v < vocab; v++)
                        {
                            float t = c[v] / softCap;
                            z[v] *= 1 - t * t;
                        }
                    }
                }
            });
            Charge("cross-entropy softmax", start);

            if (!backward)
                continue;
            start = Stopwatch.GetTimestamp();
            if (dx != null)
                MatMulBackward.InputGradient(classifier.FloatPointer, logits, dx + (long)r0 * d, rows, vocab, d, accumulate, Pool);
            if (dW is not null)
                MatMulBackward.WeightGradient(logits, xs + (long)r0 * d, dW.FloatPointer, rows, vocab, d, Pool);
            Charge("classifier matmul backward", start);
        }
        double total = 0;
        foreach (float loss in losses)
            total += loss;
        return (float)(total / n);
    }

    /// <summary>The classifier's logits x·Wᵀ (soft-capped if <paramref name="softCap"/> &gt; 0) into <paramref name="logits"/> [n, V]; no gradient.</summary>
    public void Logits(Act x, Tensor classifier, Span<float> logits, float softCap = 0f)
    {
        MatMul.Compute(classifier, Value(x), logits, x.Rows, Pool);
        if (softCap > 0)
            Ops.SoftCap(logits[..(x.Rows * classifier.Rows)], softCap);
    }
}
