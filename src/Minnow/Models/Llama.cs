using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Models;

/// <summary>One decoder layer's weights. Optional tensors cover the family variants (Qwen2 biases, Qwen3 q/k norms).</summary>
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
/// at load). RMSNorm → grouped-query attention with RoPE over the KV cache → residual → RMSNorm → SwiGLU MLP →
/// residual, then a final RMSNorm and the classifier. A prompt runs as a batch of matrix multiplies; decoding is
/// the same code with one token.
/// </summary>
public sealed class LlamaModel : ILanguageModel
{
    /// <summary>Tokens per forward chunk: bounds scratch memory for long prompts.</summary>
    private const int MaxChunk = 256;

    private readonly LlamaWeights _w;
    private readonly RopeTable _rope;
    private readonly WorkerPool _pool;
    private readonly object _forwardLock = new();
    private readonly IDisposable? _owner;

    public ModelConfig Config { get; }
    public long ParameterCount { get; }
    public long WeightBytesPerToken { get; }

    /// <summary>A model over <paramref name="weights"/>; <paramref name="owner"/> (e.g. the memory map the weights live in) is disposed with it.</summary>
    public LlamaModel(ModelConfig config, LlamaWeights weights, int threads, IDisposable? owner = null)
    {
        config.Validate(null);
        Config = config;
        _w = weights;
        _owner = owner;
        _rope = new RopeTable(config.HeadSize, config.ContextLength, config.RopeTheta, config.RopeScaling);
        _pool = new WorkerPool(threads);

        long parameters = weights.TokenEmbedding.ElementCount + weights.FinalNorm.ElementCount;
        long bytes = weights.Output.ByteLength + weights.FinalNorm.ByteLength;
        if (!ReferenceEquals(weights.Output, weights.TokenEmbedding))
            parameters += weights.Output.ElementCount;
        foreach (var layer in weights.Layers)
            foreach (var t in LayerTensors(layer))
            {
                parameters += t.ElementCount;
                bytes += t.ByteLength;
            }
        ParameterCount = parameters;
        WeightBytesPerToken = bytes;
    }

    private static IEnumerable<Tensor> LayerTensors(LlamaLayer l)
    {
        Tensor?[] all = [l.AttentionNorm, l.Wq, l.Wk, l.Wv, l.Wo, l.FfnNorm, l.WGate, l.WDown, l.WUp, l.BiasQ, l.BiasK, l.BiasV, l.QNorm, l.KNorm];
        foreach (var t in all)
            if (t is not null)
                yield return t;
    }

    public InferenceState CreateState(int? contextLength = null)
    {
        int ctx = contextLength ?? Config.ContextLength;
        if (ctx <= 0 || ctx > Config.ContextLength)
            throw new InvalidInputException($"context length must be between 1 and {Config.ContextLength}, got {ctx}");
        return new InferenceState(Config.Layers, ctx, Config.KvDim);
    }

    /// <summary>What a forward pass writes for the caller.</summary>
    private enum Output { LastLogits, AllLogits, AllHidden }

    public void Forward(InferenceState state, ReadOnlySpan<int> tokens, Span<float> logits, bool allPositions = false) =>
        Run(state, tokens, logits, allPositions ? Output.AllLogits : Output.LastLogits);

    public void ForwardHidden(InferenceState state, ReadOnlySpan<int> tokens, Span<float> hidden) =>
        Run(state, tokens, hidden, Output.AllHidden);

    private void Run(InferenceState state, ReadOnlySpan<int> tokens, Span<float> output, Output what)
    {
        int vocab = Config.VocabSize;
        int width = what == Output.AllHidden ? Config.Dim : vocab;
        if (tokens.Length == 0)
            throw new InvalidInputException("forward needs at least one token");
        if (output.Length < (what == Output.LastLogits ? vocab : (long)tokens.Length * width))
            throw new ArgumentException("output buffer too small");
        foreach (int id in tokens)
            if ((uint)id >= (uint)vocab)
                throw new InvalidInputException($"token id {id} is outside the vocabulary [0, {vocab})");
        if (state.Position + tokens.Length > state.ContextLength)
            throw new ContextLengthException(state.Position + tokens.Length, state.ContextLength);

        lock (_forwardLock)
        {
            for (int done = 0; done < tokens.Length; done += MaxChunk)
            {
                int n = Math.Min(MaxChunk, tokens.Length - done);
                bool last = done + n == tokens.Length;
                Span<float> chunkOutput = what != Output.LastLogits ? output.Slice(done * width, n * width) : last ? output[..vocab] : default;
                ForwardChunk(state, tokens.Slice(done, n), chunkOutput, what);
            }
        }
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

    private unsafe void ForwardChunk(InferenceState state, ReadOnlySpan<int> tokens, Span<float> output, Output what)
    {
        var c = Config;
        int n = tokens.Length, dim = c.Dim, hs = c.HeadSize, qDim = c.QueryDim, kvDim = c.KvDim;
        if (state.Scratch is not Scratch s || s.Tokens < n)
            state.Scratch = s = new Scratch(Math.Max(n, 1), c);
        int pos = state.Advance(n);

        // Embedding lookup.
        var x = s.X.AsSpan(0, n * dim);
        for (int t = 0; t < n; t++)
            TensorRows.Copy(_w.TokenEmbedding, tokens[t], x.Slice(t * dim, dim));

        var xb = s.Xb.AsSpan(0, n * dim);
        var q = s.Q.AsSpan(0, n * qDim);
        var k = s.K.AsSpan(0, n * kvDim);
        var v = s.V.AsSpan(0, n * kvDim);
        var att = s.Att.AsSpan(0, n * qDim);
        var gate = s.Gate.AsSpan(0, n * c.HiddenDim);
        var up = s.Up.AsSpan(0, n * c.HiddenDim);

        for (int l = 0; l < c.Layers; l++)
        {
            var layer = _w.Layers[l];

            // Attention block: norm, q/k/v projections, RoPE, cache, attention, output projection, residual.
            RmsNormRows(x, layer.AttentionNorm, xb, n, dim);
            MatMul.Compute(layer.Wq, xb, q, n, _pool);
            MatMul.Compute(layer.Wk, xb, k, n, _pool);
            MatMul.Compute(layer.Wv, xb, v, n, _pool);
            if (layer.BiasQ is not null) AddBiasRows(q, layer.BiasQ, n);
            if (layer.BiasK is not null) AddBiasRows(k, layer.BiasK, n);
            if (layer.BiasV is not null) AddBiasRows(v, layer.BiasV, n);
            for (int t = 0; t < n; t++)
            {
                var cos = _rope.Cos(pos + t);
                var sin = _rope.Sin(pos + t);
                for (int h = 0; h < c.Heads; h++)
                {
                    var head = q.Slice(t * qDim + h * hs, hs);
                    if (layer.QNorm is not null) Ops.RmsNorm(head, layer.QNorm.AsFloats(), c.NormEps, head);
                    Ops.Rope(head, cos, sin, c.RopeStyle == RopeStyle.Interleaved);
                }
                for (int h = 0; h < c.KvHeads; h++)
                {
                    var head = k.Slice(t * kvDim + h * hs, hs);
                    if (layer.KNorm is not null) Ops.RmsNorm(head, layer.KNorm.AsFloats(), c.NormEps, head);
                    Ops.Rope(head, cos, sin, c.RopeStyle == RopeStyle.Interleaved);
                }
            }
            k.CopyTo(state.Keys[l].AsSpan(pos * kvDim, n * kvDim));
            v.CopyTo(state.Values[l].AsSpan(pos * kvDim, n * kvDim));

            fixed (float* pq = q, pk = state.Keys[l], pv = state.Values[l], pa = att)
            {
                Attention.Compute(new AttentionInputs
                {
                    Queries = pq, Keys = pk, Values = pv, Output = pa,
                    Tokens = n, StartPosition = pos, Heads = c.Heads, KvHeads = c.KvHeads, HeadDim = hs,
                    Scale = 1f / MathF.Sqrt(hs),
                }, _pool);
            }
            MatMul.Compute(layer.Wo, att, xb, n, _pool);
            Ops.Add(x, xb);

            // Feed-forward block: norm, SwiGLU, residual.
            RmsNormRows(x, layer.FfnNorm, xb, n, dim);
            MatMul.Compute(layer.WGate, xb, gate, n, _pool);
            MatMul.Compute(layer.WUp, xb, up, n, _pool);
            Ops.SwiGlu(gate, up);
            MatMul.Compute(layer.WDown, gate, xb, n, _pool);
            Ops.Add(x, xb);
        }

        // Final norm, and the classifier for the rows whose logits are wanted.
        if (what == Output.AllHidden)
        {
            RmsNormRows(x, _w.FinalNorm, output, n, dim);
        }
        else if (what == Output.AllLogits)
        {
            RmsNormRows(x, _w.FinalNorm, xb, n, dim);
            MatMul.Compute(_w.Output, xb, output, n, _pool);
        }
        else if (!output.IsEmpty)
        {
            var lastRow = xb[..dim];
            Ops.RmsNorm(x.Slice((n - 1) * dim, dim), _w.FinalNorm.AsFloats(), c.NormEps, lastRow);
            MatMul.Compute(_w.Output, lastRow, output, 1, _pool);
        }
    }

    private void RmsNormRows(ReadOnlySpan<float> x, Tensor weight, Span<float> y, int rows, int dim)
    {
        var w = weight.AsFloats();
        for (int t = 0; t < rows; t++)
            Ops.RmsNorm(x.Slice(t * dim, dim), w, Config.NormEps, y.Slice(t * dim, dim));
    }

    private static void AddBiasRows(Span<float> y, Tensor bias, int rows)
    {
        var b = bias.AsFloats();
        for (int t = 0; t < rows; t++)
            Ops.Add(y.Slice(t * b.Length, b.Length), b);
    }

    public void Dispose()
    {
        _pool.Dispose();
        _owner?.Dispose();
    }
}
