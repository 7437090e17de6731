using Minnow.Generation;
using Minnow.Tensors;

namespace Minnow.Models;

/// <summary>Random initialisation for tests, benchmarks and placeholders: matrices ~ N(0, std), norm weights 1.</summary>
public static class RandomWeights
{
    /// <summary>Fills a block of weights: biases get 0, norm weights (names containing "norm", "rms", "ln_") 1, everything else N(0, std).</summary>
    public static void Fill(string name, Span<float> values, Rng rng, float std = 0.02f)
    {
        if (name.Contains("bias", StringComparison.OrdinalIgnoreCase))
            values.Clear();
        else if (name.Contains("norm", StringComparison.OrdinalIgnoreCase) || name.Contains("rms", StringComparison.OrdinalIgnoreCase) || name.Contains("ln_", StringComparison.OrdinalIgnoreCase))
            values.Fill(1f);
        else
            for (int i = 0; i < values.Length; i++)
                values[i] = rng.NextGaussian() * std;
    }

    /// <summary>A Llama model's weights in memory, deterministic for a seed.</summary>
    public static LlamaWeights Llama(ModelConfig c, ulong seed, float std = 0.02f)
    {
        c.Validate(null);
        var rng = new Rng(seed);
        Tensor Make(string name, params int[] shape)
        {
            var t = Tensor.Zeros(name, shape);
            Fill(name, t.AsFloats(), rng, std);
            return t;
        }
        var embedding = Make("token_embedding", c.VocabSize, c.Dim);
        var layers = new LlamaLayer[c.Layers];
        for (int l = 0; l < c.Layers; l++)
            layers[l] = new LlamaLayer
            {
                AttentionNorm = Make($"layers.{l}.attention_norm", c.Dim),
                Wq = Make($"layers.{l}.wq", c.QueryDim, c.Dim),
                Wk = Make($"layers.{l}.wk", c.KvDim, c.Dim),
                Wv = Make($"layers.{l}.wv", c.KvDim, c.Dim),
                Wo = Make($"layers.{l}.wo", c.Dim, c.QueryDim),
                FfnNorm = Make($"layers.{l}.ffn_norm", c.Dim),
                WGate = Make($"layers.{l}.w1", c.HiddenDim, c.Dim),
                WDown = Make($"layers.{l}.w2", c.Dim, c.HiddenDim),
                WUp = Make($"layers.{l}.w3", c.HiddenDim, c.Dim),
            };
        return new LlamaWeights
        {
            TokenEmbedding = embedding,
            Layers = layers,
            FinalNorm = Make("final_norm", c.Dim),
            Output = c.TiedEmbeddings ? embedding : Make("output", c.VocabSize, c.Dim),
        };
    }

    /// <summary>A GPT-2 model's weights in memory, deterministic for a seed.</summary>
    public static Gpt2Weights Gpt2(ModelConfig c, ulong seed, float std = 0.02f)
    {
        c.Validate(null);
        var rng = new Rng(seed);
        Tensor Make(string name, params int[] shape)
        {
            var t = Tensor.Zeros(name, shape);
            Fill(name, t.AsFloats(), rng, std);
            return t;
        }
        var embedding = Make("wte", c.VocabSize, c.Dim);
        var positions = Make("wpe", c.ContextLength, c.Dim);
        var layers = new Gpt2Layer[c.Layers];
        for (int l = 0; l < c.Layers; l++)
            layers[l] = new Gpt2Layer
            {
                Ln1Weight = Make($"h.{l}.ln_1.weight", c.Dim),
                Ln1Bias = Make($"h.{l}.ln_1.bias", c.Dim),
                Wqkv = Make($"h.{l}.attn.c_attn.weight", 3 * c.Dim, c.Dim),
                Bqkv = Make($"h.{l}.attn.c_attn.bias", 3 * c.Dim),
                Wo = Make($"h.{l}.attn.c_proj.weight", c.Dim, c.Dim),
                Bo = Make($"h.{l}.attn.c_proj.bias", c.Dim),
                Ln2Weight = Make($"h.{l}.ln_2.weight", c.Dim),
                Ln2Bias = Make($"h.{l}.ln_2.bias", c.Dim),
                WFc = Make($"h.{l}.mlp.c_fc.weight", c.HiddenDim, c.Dim),
                BFc = Make($"h.{l}.mlp.c_fc.bias", c.HiddenDim),
                WProj = Make($"h.{l}.mlp.c_proj.weight", c.Dim, c.HiddenDim),
                BProj = Make($"h.{l}.mlp.c_proj.bias", c.Dim),
            };
        return new Gpt2Weights
        {
            TokenEmbedding = embedding,
            PositionEmbedding = positions,
            Layers = layers,
            LnFWeight = Make("ln_f.weight", c.Dim),
            LnFBias = Make("ln_f.bias", c.Dim),
        };
    }
}
