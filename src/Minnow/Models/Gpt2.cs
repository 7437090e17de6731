using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Models;

/// <summary>One GPT-2 block's weights, as [out, in] matrices (HF's Conv1D [in, out] weights are transposed at load).</summary>
public sealed class Gpt2Layer
{
    public required Tensor Ln1Weight { get; init; }
    public required Tensor Ln1Bias { get; init; }
    /// <summary>Fused query/key/value projection [3·D, D] (c_attn) and its bias [3·D].</summary>
    public required Tensor Wqkv { get; init; }
    public required Tensor Bqkv { get; init; }
    /// <summary>Attention output projection [D, D] (attn.c_proj) and bias.</summary>
    public required Tensor Wo { get; init; }
    public required Tensor Bo { get; init; }
    public required Tensor Ln2Weight { get; init; }
    public required Tensor Ln2Bias { get; init; }
    /// <summary>Feed-forward up projection [F, D] (mlp.c_fc) and bias.</summary>
    public required Tensor WFc { get; init; }
    public required Tensor BFc { get; init; }
    /// <summary>Feed-forward down projection [D, F] (mlp.c_proj) and bias.</summary>
    public required Tensor WProj { get; init; }
    public required Tensor BProj { get; init; }
}

public sealed class Gpt2Weights
{
    /// <summary>Token embedding [V, D] (wte), also the classifier (tied).</summary>
    public required Tensor TokenEmbedding { get; init; }
    /// <summary>Learned position embedding [P, D] (wpe).</summary>
    public required Tensor PositionEmbedding { get; init; }
    public required Gpt2Layer[] Layers { get; init; }
    public required Tensor LnFWeight { get; init; }
    public required Tensor LnFBias { get; init; }
}

/// <summary>
/// GPT-2 (Radford et al. 2019; HF modeling_gpt2.py): token + learned position embeddings; per block
/// x += attn(LayerNorm(x)), x += mlp(LayerNorm(x)) with biased linear layers, causal multi-head attention without
/// rotary embeddings and gelu_new (tanh GELU); a final LayerNorm and the tied classifier.
/// Shapes: n = tokens in the chunk, D = Dim, F = HiddenDim, V = VocabSize.
/// </summary>
public sealed class Gpt2Model : DecoderModel
{
    private readonly Gpt2Weights _w;

    /// <summary>The weights this model runs (for writing, converting and training).</summary>
    public Gpt2Weights Weights => _w;

    public Gpt2Model(ModelConfig config, Gpt2Weights weights, int threads, IDisposable? owner = null)
        : base(config, PerTokenTensors(weights), [weights.PositionEmbedding], threads, owner)
    {
        if (config.KvHeads != config.Heads)
            throw new InvalidInputException("GPT-2 has as many key/value heads as query heads");
        _w = weights;
    }

    private static IEnumerable<Tensor> PerTokenTensors(Gpt2Weights w)
    {
        foreach (var l in w.Layers)
        {
            Tensor[] all = [l.Ln1Weight, l.Ln1Bias, l.Wqkv, l.Bqkv, l.Wo, l.Bo, l.Ln2Weight, l.Ln2Bias, l.WFc, l.BFc, l.WProj, l.BProj];
            foreach (var t in all)
                yield return t;
        }
        yield return w.LnFWeight;
        yield return w.LnFBias;
        yield return w.TokenEmbedding;
    }

    private sealed class Scratch(int tokens, ModelConfig c)
    {
        public readonly int Tokens = tokens;
        public readonly float[] X = new float[tokens * c.Dim];
        public readonly float[] Xb = new float[tokens * c.Dim];
        public readonly float[] Qkv = new float[tokens * 3 * c.Dim];
        public readonly float[] Q = GC.AllocateArray<float>(tokens * c.Dim, pinned: true);
        public readonly float[] Att = GC.AllocateArray<float>(tokens * c.Dim, pinned: true);
        public readonly float[] Hidden = new float[tokens * c.HiddenDim];
    }

    protected override unsafe void ForwardChunk(InferenceState state, ReadOnlySpan<int> tokens, Span<float> output, ForwardOutput what)
    {
        var c = Config;
        int n = tokens.Length, dim = c.Dim, hs = c.HeadSize;
        if (state.Scratch is not Scratch s || s.Tokens < n)
            state.Scratch = s = new Scratch(n, c);
        int pos = state.Advance(n);
        if (pos + n > _w.PositionEmbedding.Rows)
            throw new ContextLengthException(pos + n, _w.PositionEmbedding.Rows);

        // Token and position embeddings.
        var x = s.X.AsSpan(0, n * dim);                       // (n, D) the residual stream
        var xb = s.Xb.AsSpan(0, n * dim);                     // (n, D)
        for (int t = 0; t < n; t++)
        {
            TensorRows.Copy(_w.TokenEmbedding, tokens[t], x.Slice(t * dim, dim));
            TensorRows.Copy(_w.PositionEmbedding, pos + t, xb.Slice(t * dim, dim));
            Ops.Add(x.Slice(t * dim, dim), xb.Slice(t * dim, dim));
        }
        var qkv = s.Qkv.AsSpan(0, n * 3 * dim);               // (n, 3D)
        var q = s.Q.AsSpan(0, n * dim);                       // (n, D)
        var att = s.Att.AsSpan(0, n * dim);                   // (n, D)
        var hidden = s.Hidden.AsSpan(0, n * c.HiddenDim);     // (n, F)

        for (int l = 0; l < c.Layers; l++)
        {
            var layer = _w.Layers[l];

            // Attention block: LayerNorm, fused q/k/v projection, cache, attention, output projection, residual.
            LayerNormRows(x, layer.Ln1Weight, layer.Ln1Bias, xb, n);
            MatMul.Compute(layer.Wqkv, xb, qkv, n, Pool);
            Ops.AddBias(qkv, layer.Bqkv.AsFloats());
            for (int t = 0; t < n; t++)
            {
                var row = qkv.Slice(t * 3 * dim, 3 * dim);
                row[..dim].CopyTo(q.Slice(t * dim, dim));
                state.Store(l, pos + t, 1, row.Slice(dim, dim), row.Slice(2 * dim, dim));
            }
            fixed (float* pq = q, pa = att)
            {
                Attention.Compute(new AttentionInputs
                {
                    Queries = pq, Keys = state.Keys(l), Values = state.Values(l), CacheType = state.CacheType, Output = pa,
                    Tokens = n, StartPosition = pos, Capacity = state.Capacity, Heads = c.Heads, KvHeads = c.Heads, HeadDim = hs,
                    Scale = c.EffectiveAttentionScale,
                }, Pool);
            }
            MatMul.Compute(layer.Wo, att, xb, n, Pool);
            Ops.AddBias(xb, layer.Bo.AsFloats());
            Ops.Add(x, xb);

            // Feed-forward block: LayerNorm, c_fc, gelu_new, c_proj, residual.
            LayerNormRows(x, layer.Ln2Weight, layer.Ln2Bias, xb, n);
            MatMul.Compute(layer.WFc, xb, hidden, n, Pool);
            Ops.AddBias(hidden, layer.BFc.AsFloats());
            Ops.GeluTanh(hidden);
            MatMul.Compute(layer.WProj, hidden, xb, n, Pool);
            Ops.AddBias(xb, layer.BProj.AsFloats());
            Ops.Add(x, xb);
        }

        // Final LayerNorm, and the tied classifier for the rows whose logits are wanted.
        if (what == ForwardOutput.AllHidden)
        {
            LayerNormRows(x, _w.LnFWeight, _w.LnFBias, output, n);
        }
        else if (what == ForwardOutput.AllLogits)
        {
            LayerNormRows(x, _w.LnFWeight, _w.LnFBias, xb, n);
            MatMul.Compute(_w.TokenEmbedding, xb, output, n, Pool);          // (n, V)
        }
        else if (!output.IsEmpty)
        {
            LayerNormRows(x.Slice((n - 1) * dim, dim), _w.LnFWeight, _w.LnFBias, xb, 1);
            MatMul.Compute(_w.TokenEmbedding, xb[..dim], output, 1, Pool);   // (1, V)
        }
    }

    private void LayerNormRows(ReadOnlySpan<float> x, Tensor weight, Tensor bias, Span<float> y, int rows)
    {
        int dim = Config.Dim;
        for (int t = 0; t < rows; t++)
            Ops.LayerNorm(x.Slice(t * dim, dim), weight.AsFloats(), bias.AsFloats(), Config.NormEps, y.Slice(t * dim, dim));
    }
}
