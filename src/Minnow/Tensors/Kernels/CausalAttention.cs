using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Where training attention reads and writes: S sequences of T tokens each, rows ordered sequence by sequence.
/// The forward pass fills <see cref="Output"/> and <see cref="Probabilities"/>; the backward pass reads those and
/// adds into the three input gradients. Queries, keys and values may be column ranges of wider rows (GPT-2's fused
/// q/k/v projection): their row strides are given, and their gradients have the same layout.
/// </summary>
public readonly unsafe struct CausalAttentionArgs
{
    /// <summary>Queries [S·T, heads·headDim] (row stride <see cref="QueryStride"/>), already rotated.</summary>
    public float* Queries { get; init; }
    /// <summary>Keys [S·T, kvHeads·headDim] (row stride <see cref="KeyValueStride"/>), already rotated.</summary>
    public float* Keys { get; init; }
    /// <summary>Values [S·T, kvHeads·headDim] (row stride <see cref="KeyValueStride"/>).</summary>
    public float* Values { get; init; }
    /// <summary>Floats between consecutive query rows (and query-gradient rows).</summary>
    public int QueryStride { get; init; }
    /// <summary>Floats between consecutive key or value rows (and their gradients' rows).</summary>
    public int KeyValueStride { get; init; }
    /// <summary>Output [S·T, heads·headDim], contiguous.</summary>
    public float* Output { get; init; }
    /// <summary>Softmax probabilities [S, heads, T, T], zero above the diagonal (saved by the forward pass).</summary>
    public float* Probabilities { get; init; }
    /// <summary>With <see cref="SoftCap"/>: d capped score / d score = 1 − tanh², [S, heads, T, T] (saved by the forward pass).</summary>
    public float* SoftCapSlopes { get; init; }
    /// <summary>Gradient of the output, [S·T, heads·headDim] (backward only).</summary>
    public float* OutputGradient { get; init; }
    /// <summary>Gradients added into (backward only), shaped like the inputs.</summary>
    public float* QueryGradient { get; init; }
    public float* KeyGradient { get; init; }
    public float* ValueGradient { get; init; }
    public int Sequences { get; init; }
    public int SequenceLength { get; init; }
    public int Heads { get; init; }
    public int KvHeads { get; init; }
    public int HeadDim { get; init; }
    /// <summary>Multiplies q·k (usually 1/sqrt(headDim)).</summary>
    public float Scale { get; init; }
    /// <summary>If &gt; 0, scores become softCap·tanh(score/softCap) (Gemma 2).</summary>
    public float SoftCap { get; init; }
    /// <summary>If &gt; 0, position t attends only to positions s with t − s &lt; Window.</summary>
    public int Window { get; init; }
}

/// <summary>
/// Causal grouped-query attention for training, with its backward pass. Per (sequence, kv head) — independent work
/// items, so threads never write the same gradient — and per block of query rows, the products are small GEMMs
/// (<see cref="BlockedGemm"/>) trimmed to the causal part: S = Q·Kᵀ, P = softmax(scale·S), O = P·V; backward
/// dP = dO·Vᵀ, dS = P∘(dP − rowsum(P∘dP))·scale, dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO. P is saved by the forward pass
/// (S·H·T² floats) rather than recomputed. The inference kernel (<see cref="Attention"/>) works token by token over
/// a KV cache instead, and saves nothing.
/// </summary>
public static unsafe class CausalAttention
{
    /// <summary>Query rows per block: the score block [Block, T] and the head's K/V stay in cache.</summary>
    private const int Block = 64;

    [ThreadStatic] private static float[]? _scratch;

    public static void Forward(in CausalAttentionArgs a, WorkerPool pool)
    {
        if (Simd.Active == SimdWidth.Scalar)
        {
            ForwardScalar(a);
            return;
        }
        var job = new Job(a);
        pool.For(a.Sequences * a.KvHeads, job.Forward);
    }

    public static void Backward(in CausalAttentionArgs a, WorkerPool pool)
    {
        if (Simd.Active == SimdWidth.Scalar)
        {
            BackwardScalar(a);
            return;
        }
        var job = new Job(a);
        pool.For(a.Sequences * a.KvHeads, job.Backward);
    }

    private sealed class Job(CausalAttentionArgs a)
    {
        private readonly int _t = a.SequenceLength, _hd = a.HeadDim, _qStride = a.QueryStride, _oDim = a.Heads * a.HeadDim, _kvStride = a.KeyValueStride;

        /// <summary>Per thread: a block of scores or score gradients [Block, T].</summary>
        private float* Scratch()
        {
            int need = Block * _t;
            if (_scratch is null || _scratch.Length < need)
                _scratch = GC.AllocateUninitializedArray<float>(need, pinned: true);
            fixed (float* s = _scratch)
                return s;   // pinned: the address stays valid
        }

        private int First(int t) => a.Window > 0 ? Math.Max(0, t + 1 - a.Window) : 0;

        public void Forward(int start, int end)
        {
            int group = a.Heads / a.KvHeads;
            for (int item = start; item < end; item++)
            {
                int b = item / a.KvHeads, g = item % a.KvHeads;
                float* k = a.Keys + (long)b * _t * _kvStride + g * _hd;
                float* v = a.Values + (long)b * _t * _kvStride + g * _hd;
                for (int h = g * group; h < (g + 1) * group; h++)
                {
                    float* p = a.Probabilities + ((long)b * a.Heads + h) * _t * _t;
                    float* slopes = a.SoftCap > 0 ? a.SoftCapSlopes + ((long)b * a.Heads + h) * _t * _t : null;
                    for (int t0 = 0; t0 < _t; t0 += Block)
                    {
                        int t1 = Math.Min(_t, t0 + Block), rows = t1 - t0;
                        float* q = a.Queries + ((long)b * _t + t0) * _qStride + h * _hd;
                        // S = Q·Kᵀ for the block's queries against keys 0..t1 (the causal part), straight into P's rows.
                        BlockedGemm.Run(new GemmOperands(q, _qStride, 1, k, 1, _kvStride, p + (long)t0 * _t, _t, rows, t1, _hd), false, null);
                        for (int t = t0; t < t1; t++)
                        {
                            float* row = p + (long)t * _t;
                            if (slopes != null)
                                SoftCappedSoftmax(row, slopes + (long)t * _t, _t, First(t), t, a.Scale, a.SoftCap);
                            else
                                Softmax(row, First(t), t, a.Scale);
                            new Span<float>(row, First(t)).Clear();
                            new Span<float>(row + t + 1, _t - t - 1).Clear();
                        }
                        // O = P·V over the causal part.
                        float* o = a.Output + ((long)b * _t + t0) * _oDim + h * _hd;
                        BlockedGemm.Run(new GemmOperands(p + (long)t0 * _t, _t, 1, v, _kvStride, 1, o, _oDim, rows, _hd, t1), false, null);
                    }
                }
            }
        }

        public void Backward(int start, int end)
        {
            int group = a.Heads / a.KvHeads;
            float* ds = Scratch();
            for (int item = start; item < end; item++)
            {
                int b = item / a.KvHeads, g = item % a.KvHeads;
                long kvBase = (long)b * _t * _kvStride + g * _hd;
                for (int h = g * group; h < (g + 1) * group; h++)
                {
                    float* p = a.Probabilities + ((long)b * a.Heads + h) * _t * _t;
                    float* slopes = a.SoftCap > 0 ? a.SoftCapSlopes + ((long)b * a.Heads + h) * _t * _t : null;
                    for (int t0 = 0; t0 < _t; t0 += Block)
                    {
                        int t1 = Math.Min(_t, t0 + Block), rows = t1 - t0;
                        long qRow = ((long)b * _t + t0) * _qStride + h * _hd;
                        float* dout = a.OutputGradient + ((long)b * _t + t0) * _oDim + h * _hd;
                        // dP = dO·Vᵀ for the block (keys 0..t1).
                        BlockedGemm.Run(new GemmOperands(dout, _oDim, 1, a.Values + kvBase, 1, _kvStride, ds, _t, rows, t1, _hd), false, null);
                        // dS = P∘(dP − Σ P∘dP)·scale (times the soft-cap slope); zero wherever P is.
                        for (int t = t0; t < t1; t++)
                            ScoreGradient(p + (long)t * _t, ds + (long)(t - t0) * _t, slopes == null ? null : slopes + (long)t * _t, t1, a.Scale);
                        // dQ += dS·K; dK += dSᵀ·Q; dV += Pᵀ·dO (keys 0..t1).
                        BlockedGemm.Run(new GemmOperands(ds, _t, 1, a.Keys + kvBase, _kvStride, 1, a.QueryGradient + qRow, _qStride, rows, _hd, t1), true, null);
                        BlockedGemm.Run(new GemmOperands(ds, 1, _t, a.Queries + qRow, _qStride, 1, a.KeyGradient + kvBase, _kvStride, t1, _hd, rows), true, null);
                        BlockedGemm.Run(new GemmOperands(p + (long)t0 * _t, 1, _t, dout, _oDim, 1, a.ValueGradient + kvBase, _kvStride, t1, _hd, rows), true, null);
                    }
                }
            }
        }
    }

    /// <summary>row[first..last] ← softmax(scale·row[first..last]), in one exp-and-sum pass after the maximum.</summary>
    private static void Softmax(float* row, int first, int last, float scale)
    {
        int n = last + 1 - first;
        float* x = row + first;
        float shift = -scale * TensorPrimitives.Max(new ReadOnlySpan<float>(x, n));
        float sum = 0;
        int i = 0;
        if (Simd.Active == SimdWidth.Vector512)
        {
            var vs = Vector512.Create(scale);
            var vb = Vector512.Create(shift);
            var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                var e = FastExp.Exp(Vector512.FusedMultiplyAdd(Vector512.Load(x + i), vs, vb));
                e.Store(x + i);
                acc += e;
            }
            sum = Vector512.Sum(acc);
        }
        else if (Simd.Active == SimdWidth.Portable)
        {
            var vs = new Vector<float>(scale);
            var vb = new Vector<float>(shift);
            var acc = Vector<float>.Zero;
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
            {
                var e = FastExp.Exp(Vector.FusedMultiplyAdd(Vector.Load(x + i), vs, vb));
                e.Store(x + i);
                acc += e;
            }
            sum = Vector.Sum(acc);
        }
        for (; i < n; i++)
            sum += x[i] = MathF.Exp(x[i] * scale + shift);
        TensorPrimitives.Multiply(new ReadOnlySpan<float>(x, n), 1f / sum, new Span<float>(x, n));
    }

    /// <summary>
    /// Gemma 2's soft-capped scores: softmax(cap·tanh(scale·s/cap)), saving 1 − tanh² for the backward pass (zero
    /// outside [first, last], so the backward's products stay finite).
    /// </summary>
    private static void SoftCappedSoftmax(float* row, float* slopes, int width, int first, int last, float scale, float cap)
    {
        var visible = new Span<float>(row + first, last + 1 - first);
        new Span<float>(slopes, width).Clear();
        var slope = new Span<float>(slopes + first, visible.Length);
        TensorPrimitives.Multiply(visible, scale, visible);
        Ops.SoftCap(visible, cap);
        TensorPrimitives.Multiply(visible, 1f / cap, slope);
        TensorPrimitives.Multiply(slope, slope, slope);
        TensorPrimitives.Subtract(1f, slope, slope);
        Ops.Softmax(visible);
    }

    /// <summary>
    /// ds[s] ← p[s]·(ds[s] − Σ p∘ds)·scale (· slope[s]) over [0, width): the softmax backward for one query row; zero
    /// wherever p is (masked positions), so no masking is needed.
    /// </summary>
    private static void ScoreGradient(float* p, float* ds, float* slopes, int width, float scale)
    {
        float sum = TensorPrimitives.Dot(new ReadOnlySpan<float>(p, width), new ReadOnlySpan<float>(ds, width));
        int i = 0;
        if (slopes == null && Simd.Active == SimdWidth.Vector512)
        {
            var vsum = Vector512.Create(sum);
            var vs = Vector512.Create(scale);
            for (; i <= width - 16; i += 16)
                (Vector512.Load(p + i) * (Vector512.Load(ds + i) - vsum) * vs).Store(ds + i);
        }
        else if (slopes == null && Simd.Active == SimdWidth.Portable)
        {
            var vsum = new Vector<float>(sum);
            var vs = new Vector<float>(scale);
            for (; i <= width - Vector<float>.Count; i += Vector<float>.Count)
                (Vector.Load(p + i) * (Vector.Load(ds + i) - vsum) * vs).Store(ds + i);
        }
        for (; i < width; i++)
            ds[i] = p[i] * (ds[i] - sum) * scale * (slopes == null ? 1f : slopes[i]);
    }

    /// <summary>The scalar twin of <see cref="Forward"/>: token by token, in float64.</summary>
    public static void ForwardScalar(in CausalAttentionArgs a)
    {
        int T = a.SequenceLength, hd = a.HeadDim, qDim = a.QueryStride, oDim = a.Heads * hd, kvDim = a.KeyValueStride, group = a.Heads / a.KvHeads;
        var scores = new double[T];
        for (int b = 0; b < a.Sequences; b++)
            for (int h = 0; h < a.Heads; h++)
            {
                int g = h / group;
                for (int t = 0; t < T; t++)
                {
                    int first = a.Window > 0 ? Math.Max(0, t + 1 - a.Window) : 0;
                    float* q = a.Queries + ((long)b * T + t) * qDim + h * hd;
                    double max = double.NegativeInfinity;
                    for (int s = first; s <= t; s++)
                    {
                        float* k = a.Keys + ((long)b * T + s) * kvDim + g * hd;
                        double dot = 0;
                        for (int d = 0; d < hd; d++) dot += (double)q[d] * k[d];
                        dot *= a.Scale;
                        if (a.SoftCap > 0)
                        {
                            double th = Math.Tanh(dot / a.SoftCap);
                            dot = a.SoftCap * th;
                            a.SoftCapSlopes[(((long)b * a.Heads + h) * T + t) * T + s] = (float)(1 - th * th);
                        }
                        scores[s] = dot;
                        max = Math.Max(max, dot);
                    }
                    double sum = 0;
                    for (int s = first; s <= t; s++) sum += scores[s] = Math.Exp(scores[s] - max);
                    float* prow = a.Probabilities + (((long)b * a.Heads + h) * T + t) * T;
                    for (int s = 0; s < T; s++)
                        prow[s] = s >= first && s <= t ? (float)(scores[s] / sum) : 0f;
                    float* o = a.Output + ((long)b * T + t) * oDim + h * hd;
                    for (int d = 0; d < hd; d++)
                    {
                        double acc = 0;
                        for (int s = first; s <= t; s++) acc += scores[s] / sum * a.Values[((long)b * T + s) * kvDim + g * hd + d];
                        o[d] = (float)acc;
                    }
                }
            }
    }

    /// <summary>The scalar twin of <see cref="Backward"/>, in float64; reads the probabilities the forward pass saved.</summary>
    public static void BackwardScalar(in CausalAttentionArgs a)
    {
        int T = a.SequenceLength, hd = a.HeadDim, qDim = a.QueryStride, oDim = a.Heads * hd, kvDim = a.KeyValueStride, group = a.Heads / a.KvHeads;
        var dp = new double[T];
        for (int b = 0; b < a.Sequences; b++)
            for (int h = 0; h < a.Heads; h++)
            {
                int g = h / group;
                for (int t = 0; t < T; t++)
                {
                    int first = a.Window > 0 ? Math.Max(0, t + 1 - a.Window) : 0;
                    long qi = ((long)b * T + t) * qDim + h * hd, oi = ((long)b * T + t) * oDim + h * hd;
                    float* prow = a.Probabilities + (((long)b * a.Heads + h) * T + t) * T;
                    double sum = 0;
                    for (int s = first; s <= t; s++)
                    {
                        long ki = ((long)b * T + s) * kvDim + g * hd;
                        double dot = 0;
                        for (int d = 0; d < hd; d++) dot += (double)a.OutputGradient[oi + d] * a.Values[ki + d];
                        dp[s] = dot;
                        sum += prow[s] * dot;
                        for (int d = 0; d < hd; d++) a.ValueGradient[ki + d] += (float)(prow[s] * a.OutputGradient[oi + d]);
                    }
                    for (int s = first; s <= t; s++)
                    {
                        long ki = ((long)b * T + s) * kvDim + g * hd;
                        double dscore = prow[s] * (dp[s] - sum) * a.Scale;
                        if (a.SoftCap > 0) dscore *= a.SoftCapSlopes[(((long)b * a.Heads + h) * T + t) * T + s];
                        for (int d = 0; d < hd; d++)
                        {
                            a.QueryGradient[qi + d] += (float)(dscore * a.Keys[ki + d]);
                            a.KeyGradient[ki + d] += (float)(dscore * a.Queries[qi + d]);
                        }
                    }
                }
            }
    }
}
