using System.Diagnostics;
using Minnow.Tensors.Kernels;

namespace Minnow.Training;

public sealed unsafe partial class Tape
{
    /// <summary>
    /// Causal grouped-query attention within each of the sequences of <paramref name="sequenceLength"/> tokens that
    /// make up the rows: q [n, heads·hd], k and v [n, kvHeads·hd] → [n, heads·hd]. Saves the probabilities
    /// (sequences·heads·T² floats) for the backward pass (<see cref="CausalAttention"/>).
    /// </summary>
    public Act Attention(Act q, Act k, Act v, int sequenceLength, int heads, int kvHeads, float scale, float softCap = 0f, int window = 0)
    {
        if (k.Cols != v.Cols || q.Cols % heads != 0 || k.Cols != q.Cols / heads * kvHeads)
            throw new InvalidInputException($"attention over q [{q.Rows}, {q.Cols}], k [{k.Rows}, {k.Cols}], v [{v.Rows}, {v.Cols}] with {heads}/{kvHeads} heads");
        return Attention(q, 0, k, 0, v, 0, q.Cols / heads, sequenceLength, heads, kvHeads, scale, softCap, window);
    }

    /// <summary>
    /// Multi-head attention over a fused projection qkv [n, 3·heads·hd] whose rows hold q, then k, then v (GPT-2's
    /// c_attn): no copies, the kernel reads the three column ranges in place.
    /// </summary>
    public Act Attention(Act qkv, int sequenceLength, int heads, float scale)
    {
        int width = qkv.Cols / 3;
        if (qkv.Cols % 3 != 0 || width % heads != 0)
            throw new InvalidInputException($"fused attention over rows of {qkv.Cols} with {heads} heads");
        return Attention(qkv, 0, qkv, width, qkv, 2 * width, width / heads, sequenceLength, heads, heads, scale, 0f, 0);
    }

    private Act Attention(Act q, int qColumn, Act k, int kColumn, Act v, int vColumn, int hd, int sequenceLength, int heads, int kvHeads,
        float scale, float softCap, int window)
    {
        long start = Stopwatch.GetTimestamp();
        int n = q.Rows, sequences = n / sequenceLength;
        if (n % sequenceLength != 0 || k.Rows != n || v.Rows != n || k.Cols != v.Cols || heads % kvHeads != 0)
            throw new InvalidInputException($"attention over {n} rows in sequences of {sequenceLength} with {heads}/{kvHeads} heads");
        var output = Allocate(n, heads * hd, RequiresGrad(q) || RequiresGrad(k) || RequiresGrad(v));
        var probabilities = Allocate(sequences * heads * sequenceLength, sequenceLength, requiresGrad: false);
        var slopes = softCap > 0 ? Allocate(sequences * heads * sequenceLength, sequenceLength, requiresGrad: false) : default;
        var args = new CausalAttentionArgs
        {
            Queries = ValuePointer(q) + qColumn, Keys = ValuePointer(k) + kColumn, Values = ValuePointer(v) + vColumn,
            QueryStride = q.Cols, KeyValueStride = k.Cols,
            Output = ValuePointer(output), Probabilities = ValuePointer(probabilities), SoftCapSlopes = softCap > 0 ? ValuePointer(slopes) : null,
            Sequences = sequences, SequenceLength = sequenceLength, Heads = heads, KvHeads = kvHeads, HeadDim = hd,
            Scale = scale, SoftCap = softCap, Window = window,
        };
        CausalAttention.Forward(args, Pool);
        Charge("attention", start);

        Record("attention", () =>
        {
            var dout = Gradient(output);
            if (dout.IsEmpty)
                return;
            // Inputs that need no gradient still get one, computed aside (q, k and v are distinct or all the same act).
            float* aside = null;
            float* Target(Act a, long asideOffset)
            {
                float* g = ZeroedGradientTarget(a);
                if (g != null)
                    return g;
                if (aside == null)
                {
                    aside = Scratch(q.Length + k.Length + v.Length);
                    new Span<float>(aside, q.Length + k.Length + v.Length).Clear();
                }
                return aside + asideOffset;
            }
            float* dq = Target(q, 0);
            // A fused qkv act is zeroed once, by its first request.
            float* dk = k.Id == q.Id ? dq : Target(k, q.Length);
            float* dv = v.Id == q.Id ? dq : v.Id == k.Id ? dk : Target(v, q.Length + k.Length);
            fixed (float* pdout = dout)
            {
                CausalAttention.Backward(args with
                {
                    OutputGradient = pdout,
                    QueryGradient = dq + qColumn,
                    KeyGradient = dk + kColumn,
                    ValueGradient = dv + vColumn,
                }, Pool);
            }
        });
        return output;
    }
}
