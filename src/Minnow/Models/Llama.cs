using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Models;

/// <summary>One decoder layer's weights. Optional tensors cover the family variants (Qwen2 biases, Qwen3 q/k norms, Gemma 2's extra norms).</summary>
public sealed class LlamaLayer
{
    public required Tensor AttentionNorm { get; init; }
    public required Tensor Wq { get; init; }
    public required Tensor Wk { get; init; }
    public required Tensor Wv { get; init; }
    public required Tensor Wo { get; init; }
    public required Tensor FfnNorm { get; init; }
    /// <summary>Gate projection (w1 in llama2.c).</summary>
    public required Tensor WGate { get; init; }
    /// <summary>Down projection (w2 in llama2.c).</summary>
    public required Tensor WDown { get; init; }
    /// <summary>Up projection (w3 in llama2.c).</summary>
    public required Tensor WUp { get; init; }
    public Tensor? BiasQ { get; init; }
    public Tensor? BiasK { get; init; }
    public Tensor? BiasV { get; init; }
    /// <summary>Per-head RMSNorm of queries before RoPE (Qwen3).</summary>
    public Tensor? QNorm { get; init; }
    /// <summary>Per-head RMSNorm of keys before RoPE (Qwen3).</summary>
    public Tensor? KNorm { get; init; }
    /// <summary>RMSNorm of the attention output before the residual add (Gemma 2).</summary>
    public Tensor? PostAttentionNorm { get; init; }
    /// <summary>RMSNorm of the feed-forward output before the residual add (Gemma 2).</summary>
    public Tensor? PostFfnNorm { get; init; }
}

/// <summary>All weights of a Llama-family model. <see cref="Output"/> may be the embedding itself (tied).</summary>
public sealed class LlamaWeights
{
    public required Tensor TokenEmbedding { get; init; }
    public required LlamaLayer[] Layers { get; init; }
    public required Tensor FinalNorm { get; init; }
    public required Tensor Output { get; init; }
}

/// <summary>
/// The Llama family: Llama 2/3, Mistral, Qwen2/3, SmolLM, TinyLlama, Phi-3 (fused weights are split into views
/// at load) and Gemma 1/2 (the same block with (1+w) norms, GeGLU, a scaled embedding, extra norms and soft-capping,
/// all read from <see cref="ModelConfig"/> and the optional layer tensors). Per layer: RMSNorm → grouped-query attention
/// with RoPE over the KV cache → residual → RMSNorm → gated MLP → residual; then a final RMSNorm and the classifier.
/// A prompt runs as a batch of matrix multiplies; decoding is the same code with one token.
/// Shapes: n = tokens in the chunk, D = Dim, Q = QueryDim (heads·headSize), KV = KvDim, F = HiddenDim, V = VocabSize.
/// </summary>
public sealed class LlamaModel : DecoderModel
{
    private readonly LlamaWeights _w;

    /// <summary>The weights this model runs (for writing, converting and training).</summary>
    public LlamaWeights Weights => _w;
    private readonly RopeTable _rope;

    /// <summary>A model over <paramref name="weights"/>; <paramref name="owner"/> (e.g. the memory map the weights live in) is disposed with it.</summary>
    public LlamaModel(ModelConfig config, LlamaWeights weights, int threads, IDisposable? owner = null)
        : base(config, PerTokenTensors(weights), [weights.TokenEmbedding], threads, owner)
    {
        _w = weights;
        _rope = new RopeTable(config.HeadSize, config.ContextLength, config.RopeTheta, config.RopeScaling);
        // Matrices may stay block-quantized (the kernels and row lookups read them in place); vectors must be F32.
        if (weights.FinalNorm.DType != DType.F32)
            throw new InvalidInputException($"the final norm must be F32 here, got {weights.FinalNorm.DType}");
    }

    private static IEnumerable<Tensor> PerTokenTensors(LlamaWeights w)
    {
        foreach (var l in w.Layers)
        {
            Tensor?[] all = [l.AttentionNorm, l.Wq, l.Wk, l.Wv, l.Wo, l.FfnNorm, l.WGate, l.WDown, l.WUp, l.BiasQ, l.BiasK, l.BiasV,
                l.QNorm, l.KNorm, l.PostAttentionNorm, l.PostFfnNorm];
            foreach (var t in all)
                if (t is not null)
                    yield return t;
        }
        yield return w.FinalNorm;
        yield return w.Output;
    }

    private sealed class Scratch(int tokens, ModelConfig c)
    {
        public readonly int Tokens = tokens;
        public readonly float[] X = new float[tokens * c.Dim];
        public readonly float[] Xb = new float[tokens * c.Dim];
        public readonly float[] Q = new float[tokens * c.QueryDim];
        public readonly float[] K = new float[tokens * c.KvDim];
        public readonly float[] V = new float[tokens * c.KvDim];
        public readonly float[] Att = GC.AllocateArray<float>(tokens * c.QueryDim, pinned: true);
        public readonly float[] Gate = new float[tokens * c.HiddenDim];
        public readonly float[] Up = new float[tokens * c.HiddenDim];
    }

    protected override unsafe void ForwardChunk(InferenceState state, ReadOnlySpan<int> tokens, Span<float> output, ForwardOutput what)
    {
        var c = Config;
        int n = tokens.Length, dim = c.Dim, hs = c.HeadSize, qDim = c.QueryDim, kvDim = c.KvDim;
        if (state.Scratch is not Scratch s || s.Tokens < n)
            state.Scratch = s = new Scratch(Math.Max(n, 1), c);
        int pos = state.Advance(n);

        // Embedding lookup.
        var x = s.X.AsSpan(0, n * dim);                           // (n, D) the residual stream
        for (int t = 0; t < n; t++)
            TensorRows.Copy(_w.TokenEmbedding, tokens[t], x.Slice(t * dim, dim));
        if (c.EmbeddingScale != 1f)
            Ops.Scale(x, c.EmbeddingScale);

        var xb = s.Xb.AsSpan(0, n * dim);                         // (n, D) normed input / block output
        var q = s.Q.AsSpan(0, n * qDim);                          // (n, Q)
        var k = s.K.AsSpan(0, n * kvDim);                         // (n, KV)
        var v = s.V.AsSpan(0, n * kvDim);                         // (n, KV)
        var att = s.Att.AsSpan(0, n * qDim);                      // (n, Q) attention output
        var gate = s.Gate.AsSpan(0, n * c.HiddenDim);             // (n, F)
        var up = s.Up.AsSpan(0, n * c.HiddenDim);                 // (n, F)

        for (int l = 0; l < c.Layers; l++)
        {
            var layer = _w.Layers[l];

            // Attention block: norm, q/k/v projections, RoPE, cache, attention, output projection, residual.
            RmsNormRows(x, layer.AttentionNorm, xb, n, dim);
            MatMul.Compute(xb, n, Pool, layer.Wq, q, layer.Wk, k, layer.Wv, v);
            if (layer.BiasQ is not null) Ops.AddBias(q, layer.BiasQ.AsFloats());
            if (layer.BiasK is not null) Ops.AddBias(k, layer.BiasK.AsFloats());
            if (layer.BiasV is not null) Ops.AddBias(v, layer.BiasV.AsFloats());
            for (int t = 0; t < n; t++)
            {
                var cos = _rope.Cos(pos + t);
                var sin = _rope.Sin(pos + t);
                for (int h = 0; h < c.Heads; h++)
                {
                    var head = q.Slice(t * qDim + h * hs, hs);
                    if (layer.QNorm is not null) Ops.RmsNorm(head, layer.QNorm.AsFloats(), c.NormEps, head, c.NormWeightOffset);
                    Ops.Rope(head, cos, sin, c.RopeStyle == RopeStyle.Interleaved);
                }
                for (int h = 0; h < c.KvHeads; h++)
                {
                    var head = k.Slice(t * kvDim + h * hs, hs);
                    if (layer.KNorm is not null) Ops.RmsNorm(head, layer.KNorm.AsFloats(), c.NormEps, head, c.NormWeightOffset);
                    Ops.Rope(head, cos, sin, c.RopeStyle == RopeStyle.Interleaved);
                }
            }
            state.Store(l, pos, n, k, v);

            fixed (float* pq = q, pa = att)
            {
                Attention.Compute(new AttentionInputs
                {
                    Queries = pq, Keys = state.Keys(l), Values = state.Values(l), CacheType = state.CacheType, Output = pa,
                    Tokens = n, StartPosition = pos, Capacity = state.Capacity, Heads = c.Heads, KvHeads = c.KvHeads, HeadDim = hs,
                    Scale = c.EffectiveAttentionScale, SoftCap = c.AttentionSoftCap, Window = c.WindowOfLayer(l),
                }, Pool);
            }
            MatMul.Compute(layer.Wo, att, xb, n, Pool);
            if (layer.PostAttentionNorm is not null) RmsNormRows(xb, layer.PostAttentionNorm, xb, n, dim);
            Ops.Add(x, xb);

            // Feed-forward block: norm, gated MLP (SwiGLU or GeGLU), residual.
            RmsNormRows(x, layer.FfnNorm, xb, n, dim);
            MatMul.Compute(xb, n, Pool, layer.WGate, gate, layer.WUp, up);
            if (c.Activation == Activation.GeluTanh) Ops.GeGlu(gate, up); else Ops.SwiGlu(gate, up);
            MatMul.Compute(layer.WDown, gate, xb, n, Pool);
            if (layer.PostFfnNorm is not null) RmsNormRows(xb, layer.PostFfnNorm, xb, n, dim);
            Ops.Add(x, xb);
        }

        // Final norm, and the classifier for the rows whose logits are wanted.
        if (what == ForwardOutput.AllHidden)
        {
            RmsNormRows(x, _w.FinalNorm, output, n, dim);
        }
        else if (what == ForwardOutput.AllLogits)
        {
            RmsNormRows(x, _w.FinalNorm, xb, n, dim);
            MatMul.Compute(_w.Output, xb, output, n, Pool);     // (n, V)
            if (c.FinalSoftCap > 0) Ops.SoftCap(output, c.FinalSoftCap);
        }
        else if (!output.IsEmpty)
        {
            RmsNormRows(x.Slice((n - 1) * dim, dim), _w.FinalNorm, xb, 1, dim);
            MatMul.Compute(_w.Output, xb[..dim], output, 1, Pool);  // (1, V)
            if (c.FinalSoftCap > 0) Ops.SoftCap(output, c.FinalSoftCap);
        }
    }

    private void RmsNormRows(ReadOnlySpan<float> x, Tensor weight, Span<float> y, int rows, int dim)
    {
        var w = weight.AsFloats();
        for (int t = 0; t < rows; t++)
            Ops.RmsNorm(x.Slice(t * dim, dim), w, Config.NormEps, y.Slice(t * dim, dim), Config.NormWeightOffset);
    }
}
