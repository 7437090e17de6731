using Minnow.Generation;
using Minnow.Models;
using Minnow.Tensors.Kernels;
using Tensor = Minnow.Tensors.Tensor;

namespace Minnow.Training;

/// <summary>
/// The Llama family (<see cref="LlamaModel"/>'s architecture, with its Qwen2 biases, Qwen3 q/k norms and Gemma
/// variants) as a trainable model. Its <see cref="Weights"/> are views into one flat parameter buffer named with HF's
/// checkpoint names, so the inference model, the HF writer and this model all read the same memory. The forward pass
/// below is <see cref="LlamaModel"/>'s, layer for layer, recorded on a tape.
/// Shapes: n = S·T tokens, D = Dim, Q = QueryDim, KV = KvDim, F = HiddenDim.
/// </summary>
public sealed class TrainableLlama : TrainableModel
{
    private readonly RopeTable _rope;

    /// <summary>The weights, as views into <see cref="TrainableModel.Parameters"/>.</summary>
    public LlamaWeights Weights { get; }

    /// <summary>Which optional tensors each layer has.</summary>
    private sealed record Variant(bool QkvBias, bool QkNorm, bool PostNorms);

    private TrainableLlama(ModelConfig config, ParameterStore parameters, int threads) : base(config, parameters, threads)
    {
        _rope = new RopeTable(config.HeadSize, config.ContextLength, config.RopeTheta, config.RopeScaling);
        var p = parameters;
        Tensor? Optional(string name) => p.Find(name)?.Value;
        var layers = new LlamaLayer[config.Layers];
        for (int l = 0; l < config.Layers; l++)
        {
            string n = $"model.layers.{l}.";
            bool postNorms = Optional(n + "post_feedforward_layernorm.weight") is not null;
            layers[l] = new LlamaLayer
            {
                AttentionNorm = p[n + "input_layernorm.weight"].Value,
                Wq = p[n + "self_attn.q_proj.weight"].Value,
                Wk = p[n + "self_attn.k_proj.weight"].Value,
                Wv = p[n + "self_attn.v_proj.weight"].Value,
                BiasQ = Optional(n + "self_attn.q_proj.bias"),
                BiasK = Optional(n + "self_attn.k_proj.bias"),
                BiasV = Optional(n + "self_attn.v_proj.bias"),
                QNorm = Optional(n + "self_attn.q_norm.weight"),
                KNorm = Optional(n + "self_attn.k_norm.weight"),
                Wo = p[n + "self_attn.o_proj.weight"].Value,
                FfnNorm = p[n + (postNorms ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight")].Value,
                PostAttentionNorm = postNorms ? p[n + "post_attention_layernorm.weight"].Value : null,
                PostFfnNorm = postNorms ? p[n + "post_feedforward_layernorm.weight"].Value : null,
                WGate = p[n + "mlp.gate_proj.weight"].Value,
                WUp = p[n + "mlp.up_proj.weight"].Value,
                WDown = p[n + "mlp.down_proj.weight"].Value,
            };
        }
        var embedding = p["model.embed_tokens.weight"].Value;
        Weights = new LlamaWeights
        {
            TokenEmbedding = embedding,
            Layers = layers,
            FinalNorm = p["model.norm.weight"].Value,
            Output = config.TiedEmbeddings ? embedding : p["lm_head.weight"].Value,
        };
    }

    /// <summary>
    /// A trainable copy of <paramref name="weights"/> (from any loader: HF folder, llama2.c, GGUF). The config's
    /// <see cref="ModelConfig.TiedEmbeddings"/> must agree with whether the classifier is the embedding.
    /// </summary>
    public static TrainableLlama FromWeights(ModelConfig config, LlamaWeights weights, int threads)
    {
        var layer = weights.Layers[0];
        bool tied = ReferenceEquals(weights.Output, weights.TokenEmbedding);
        if (tied != config.TiedEmbeddings)
            throw new InvalidInputException($"the config says tied embeddings = {config.TiedEmbeddings} but the weights are {(tied ? "" : "not ")}tied");
        var variant = new Variant(layer.BiasQ is not null, layer.QNorm is not null, layer.PostFfnNorm is not null);
        var model = new TrainableLlama(config, new ParameterStore(Layout(config, variant)), threads);
        var from = Enumerate(weights).ToList();
        var to = Enumerate(model.Weights).ToList();
        for (int i = 0; i < from.Count; i++)
        {
            if (from[i].ElementCount != to[i].ElementCount)
                throw new InvalidInputException($"tensor '{from[i].Name}' has {from[i].ElementCount} values, the config needs {to[i].ElementCount} for '{to[i].Name}'");
            Tensors.TensorConvert.ToF32(from[i], to[i].AsFloats());
        }
        return model;
    }

    /// <summary>
    /// A freshly initialised model, deterministic for a seed: matrices ~ N(0, std), biases 0, norm weights 1 (0 where
    /// the config adds an offset of 1, as Gemma does). The variant's optional tensors follow the architecture name
    /// (qwen2: q/k/v biases; qwen3: q/k norms; gemma2: post norms).
    /// </summary>
    public static TrainableLlama Create(ModelConfig config, ulong seed, int threads, float std = 0.02f)
    {
        var variant = new Variant(config.Architecture == "qwen2", config.Architecture == "qwen3", config.Architecture == "gemma2");
        var model = new TrainableLlama(config, new ParameterStore(Layout(config, variant)), threads);
        var rng = new Rng(seed);
        foreach (var p in model.Parameters.Parameters)
        {
            RandomWeights.Fill(p.Name, p.Value.AsFloats(), rng, std);
            if (p.Name.Contains("norm", StringComparison.Ordinal) && config.NormWeightOffset != 0f)
                p.Value.AsFloats().Fill(1f - config.NormWeightOffset);
        }
        return model;
    }

    /// <summary>Parameter names (HF's) and shapes in buffer order: each layer's q/k/v rows and gate/up rows are adjacent.</summary>
    private static IEnumerable<(string, int[])> Layout(ModelConfig c, Variant v)
    {
        int d = c.Dim, q = c.QueryDim, kv = c.KvDim, f = c.HiddenDim;
        yield return ("model.embed_tokens.weight", [c.VocabSize, d]);
        for (int l = 0; l < c.Layers; l++)
        {
            string n = $"model.layers.{l}.";
            yield return (n + "input_layernorm.weight", [d]);
            yield return (n + "self_attn.q_proj.weight", [q, d]);
            yield return (n + "self_attn.k_proj.weight", [kv, d]);
            yield return (n + "self_attn.v_proj.weight", [kv, d]);
            if (v.QkvBias)
            {
                yield return (n + "self_attn.q_proj.bias", [q]);
                yield return (n + "self_attn.k_proj.bias", [kv]);
                yield return (n + "self_attn.v_proj.bias", [kv]);
            }
            if (v.QkNorm)
            {
                yield return (n + "self_attn.q_norm.weight", [c.HeadSize]);
                yield return (n + "self_attn.k_norm.weight", [c.HeadSize]);
            }
            yield return (n + "self_attn.o_proj.weight", [d, q]);
            if (v.PostNorms)
            {
                yield return (n + "post_attention_layernorm.weight", [d]);
                yield return (n + "pre_feedforward_layernorm.weight", [d]);
            }
            else
            {
                yield return (n + "post_attention_layernorm.weight", [d]);
            }
            yield return (n + "mlp.gate_proj.weight", [f, d]);
            yield return (n + "mlp.up_proj.weight", [f, d]);
            yield return (n + "mlp.down_proj.weight", [d, f]);
            if (v.PostNorms)
                yield return (n + "post_feedforward_layernorm.weight", [d]);
        }
        yield return ("model.norm.weight", [d]);
        if (!c.TiedEmbeddings)
            yield return ("lm_head.weight", [c.VocabSize, d]);
    }

    /// <summary>Every tensor of <paramref name="w"/> once, in a fixed order (the classifier only if untied).</summary>
    private static IEnumerable<Tensor> Enumerate(LlamaWeights w)
    {
        yield return w.TokenEmbedding;
        foreach (var l in w.Layers)
        {
            Tensor?[] all = [l.AttentionNorm, l.Wq, l.Wk, l.Wv, l.BiasQ, l.BiasK, l.BiasV, l.QNorm, l.KNorm, l.Wo,
                l.PostAttentionNorm, l.FfnNorm, l.WGate, l.WUp, l.WDown, l.PostFfnNorm];
            foreach (var t in all)
                if (t is not null)
                    yield return t;
        }
        yield return w.FinalNorm;
        if (!ReferenceEquals(w.Output, w.TokenEmbedding))
            yield return w.Output;
    }

    public override Tensor Classifier => Weights.Output;

    public override LlamaModel CreateInferenceModel(int threads) => new(Config, Weights, threads);

    public override Act Forward(Tape tape, int[] inputs, int sequenceLength)
    {
        CheckInputs(inputs, sequenceLength);
        var c = Config;
        var w = Weights;
        int hs = c.HeadSize;
        float eps = c.NormEps, offset = c.NormWeightOffset;
        var x = tape.Embedding(inputs, w.TokenEmbedding, c.EmbeddingScale);          // (n, D) the residual stream
        for (int l = 0; l < c.Layers; l++)
        {
            var layer = w.Layers[l];

            // Attention block: norm, q/k/v projections, q/k norms, RoPE, causal attention, output projection, residual.
            var h = tape.RmsNorm(x, layer.AttentionNorm, eps, offset);               // (n, D)
            var q = tape.Linear(h, layer.Wq, layer.BiasQ);                           // (n, Q)
            var k = tape.Linear(h, layer.Wk, layer.BiasK);                           // (n, KV)
            var v = tape.Linear(h, layer.Wv, layer.BiasV);                           // (n, KV)
            if (layer.QNorm is not null) q = tape.RmsNorm(q, layer.QNorm, eps, offset);   // per head
            if (layer.KNorm is not null) k = tape.RmsNorm(k, layer.KNorm, eps, offset);
            tape.Rope(q, hs, _rope, c.RopeStyle, sequenceLength);
            tape.Rope(k, hs, _rope, c.RopeStyle, sequenceLength);
            var att = tape.Attention(q, k, v, sequenceLength, c.Heads, c.KvHeads,
                c.EffectiveAttentionScale, c.AttentionSoftCap, c.WindowOfLayer(l));   // (n, Q)
            var o = tape.Linear(att, layer.Wo);                                      // (n, D)
            if (layer.PostAttentionNorm is not null) o = tape.RmsNorm(o, layer.PostAttentionNorm, eps, offset);
            x = tape.Residual(x, o);

            // Feed-forward block: norm, gated MLP (SwiGLU or GeGLU), residual.
            h = tape.RmsNorm(x, layer.FfnNorm, eps, offset);                         // (n, D)
            var gate = tape.Linear(h, layer.WGate);                                  // (n, F)
            var up = tape.Linear(h, layer.WUp);                                      // (n, F)
            var f = c.Activation == Activation.GeluTanh ? tape.GeGlu(gate, up) : tape.SwiGlu(gate, up);
            var down = tape.Linear(f, layer.WDown);                                  // (n, D)
            if (layer.PostFfnNorm is not null) down = tape.RmsNorm(down, layer.PostFfnNorm, eps, offset);
            x = tape.Residual(x, down);
        }
        return tape.RmsNorm(x, w.FinalNorm, eps, offset);                            // (n, D)
    }
}
