using Minnow.Generation;
using Minnow.Models;
using Tensor = Minnow.Tensors.Tensor;

namespace Minnow.Training;

/// <summary>
/// GPT-2 (<see cref="Gpt2Model"/>'s architecture; nanoGPT's model with biases) as a trainable model. Its
/// <see cref="Weights"/> are views into one flat parameter buffer named with HF's names; matrices are stored
/// [out, in] as <see cref="Gpt2Weights"/> holds them (HF's Conv1D files store the transpose; the writer converts).
/// Shapes: n = S·T tokens, D = Dim, F = HiddenDim.
/// </summary>
public sealed class TrainableGpt2 : TrainableModel
{
    /// <summary>The weights, as views into <see cref="TrainableModel.Parameters"/>.</summary>
    public Gpt2Weights Weights { get; }

    private TrainableGpt2(ModelConfig config, int threads) : base(config, new ParameterStore(Layout(config)), threads)
    {
        if (config.KvHeads != config.Heads)
            throw new InvalidInputException("GPT-2 has as many key/value heads as query heads");
        var p = Parameters;
        var layers = new Gpt2Layer[config.Layers];
        for (int l = 0; l < config.Layers; l++)
        {
            string n = $"transformer.h.{l}.";
            layers[l] = new Gpt2Layer
            {
                Ln1Weight = p[n + "ln_1.weight"].Value,
                Ln1Bias = p[n + "ln_1.bias"].Value,
                Wqkv = p[n + "attn.c_attn.weight"].Value,
                Bqkv = p[n + "attn.c_attn.bias"].Value,
                Wo = p[n + "attn.c_proj.weight"].Value,
                Bo = p[n + "attn.c_proj.bias"].Value,
                Ln2Weight = p[n + "ln_2.weight"].Value,
                Ln2Bias = p[n + "ln_2.bias"].Value,
                WFc = p[n + "mlp.c_fc.weight"].Value,
                BFc = p[n + "mlp.c_fc.bias"].Value,
                WProj = p[n + "mlp.c_proj.weight"].Value,
                BProj = p[n + "mlp.c_proj.bias"].Value,
            };
        }
        Weights = new Gpt2Weights
        {
            TokenEmbedding = p["transformer.wte.weight"].Value,
            PositionEmbedding = p["transformer.wpe.weight"].Value,
            Layers = layers,
            LnFWeight = p["transformer.ln_f.weight"].Value,
            LnFBias = p["transformer.ln_f.bias"].Value,
        };
    }

    /// <summary>A trainable copy of <paramref name="weights"/>.</summary>
    public static TrainableGpt2 FromWeights(ModelConfig config, Gpt2Weights weights, int threads)
    {
        var model = new TrainableGpt2(config, threads);
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

    /// <summary>A freshly initialised model, deterministic for a seed: matrices ~ N(0, std), biases 0, LayerNorm weights 1.</summary>
    public static TrainableGpt2 Create(ModelConfig config, ulong seed, int threads, float std = 0.02f)
    {
        var model = new TrainableGpt2(config, threads);
        var rng = new Rng(seed);
        foreach (var p in model.Parameters.Parameters)
            RandomWeights.Fill(p.Name, p.Value.AsFloats(), rng, std);
        return model;
    }

    private static IEnumerable<(string, int[])> Layout(ModelConfig c)
    {
        int d = c.Dim, f = c.HiddenDim;
        yield return ("transformer.wte.weight", [c.VocabSize, d]);
        yield return ("transformer.wpe.weight", [c.ContextLength, d]);
        for (int l = 0; l < c.Layers; l++)
        {
            string n = $"transformer.h.{l}.";
            yield return (n + "ln_1.weight", [d]);
            yield return (n + "ln_1.bias", [d]);
            yield return (n + "attn.c_attn.weight", [3 * d, d]);
            yield return (n + "attn.c_attn.bias", [3 * d]);
            yield return (n + "attn.c_proj.weight", [d, d]);
            yield return (n + "attn.c_proj.bias", [d]);
            yield return (n + "ln_2.weight", [d]);
            yield return (n + "ln_2.bias", [d]);
            yield return (n + "mlp.c_fc.weight", [f, d]);
            yield return (n + "mlp.c_fc.bias", [f]);
            yield return (n + "mlp.c_proj.weight", [d, f]);
            yield return (n + "mlp.c_proj.bias", [d]);
        }
        yield return ("transformer.ln_f.weight", [d]);
        yield return ("transformer.ln_f.bias", [d]);
    }

    private static IEnumerable<Tensor> Enumerate(Gpt2Weights w)
    {
        yield return w.TokenEmbedding;
        yield return w.PositionEmbedding;
        foreach (var l in w.Layers)
            foreach (var t in new[] { l.Ln1Weight, l.Ln1Bias, l.Wqkv, l.Bqkv, l.Wo, l.Bo, l.Ln2Weight, l.Ln2Bias, l.WFc, l.BFc, l.WProj, l.BProj })
                yield return t;
        yield return w.LnFWeight;
        yield return w.LnFBias;
    }

    public override Tensor Classifier => Weights.TokenEmbedding;

    public override Gpt2Model CreateInferenceModel(int threads) => new(Config, Weights, threads);

    public override Act Forward(Tape tape, int[] inputs, int sequenceLength)
    {
        CheckInputs(inputs, sequenceLength);
        var c = Config;
        var w = Weights;
        float eps = c.NormEps;
        var x = tape.Embedding(inputs, w.TokenEmbedding, 1f, w.PositionEmbedding, sequenceLength);   // (n, D) the residual stream
        foreach (var layer in w.Layers)
        {
            // Attention block: LayerNorm, fused q/k/v projection, causal attention, output projection, residual.
            var h = tape.LayerNorm(x, layer.Ln1Weight, layer.Ln1Bias, eps);               // (n, D)
            var qkv = tape.Linear(h, layer.Wqkv, layer.Bqkv);                             // (n, 3D)
            var att = tape.Attention(qkv, sequenceLength, c.Heads, c.EffectiveAttentionScale);   // (n, D)
            x = tape.Residual(x, tape.Linear(att, layer.Wo, layer.Bo));

            // Feed-forward block: LayerNorm, c_fc, gelu_new, c_proj, residual.
            h = tape.LayerNorm(x, layer.Ln2Weight, layer.Ln2Bias, eps);                   // (n, D)
            var hidden = tape.GeluTanh(tape.Linear(h, layer.WFc, layer.BFc));            // (n, F)
            x = tape.Residual(x, tape.Linear(hidden, layer.WProj, layer.BProj));
        }
        return tape.LayerNorm(x, w.LnFWeight, w.LnFBias, eps);                            // (n, D)
    }
}
