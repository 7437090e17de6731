using Minnow.Generation;
using Minnow.Tensors;

namespace Minnow.Models;

/// <summary>Random initialisation for tests, benchmarks and placeholders: matrices ~ N(0, std), norm weights 1.</summary>
public static class RandomWeights
{
    /// <summary>Fills a block of weights: norms (names containing "norm", "rms") get 1, everything else N(0, std).</summary>
    public static void Fill(string name, Span<float> values, Rng rng, float std = 0.02f)
    {
        if (name.Contains("norm", StringComparison.OrdinalIgnoreCase) || name.Contains("rms", StringComparison.OrdinalIgnoreCase))
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
}
