using Minnow.Formats.Safetensors;
using Minnow.Models;
using Minnow.Tensors;

namespace Minnow.Formats.HuggingFace;

/// <summary>
/// Maps a HF checkpoint's tensor names onto each family's weights, checking every shape. Names are used exactly as
/// transformers' save_pretrained writes them (<c>model.layers.{i}.self_attn.q_proj.weight</c>, GPT-2's
/// <c>transformer.h.{i}.attn.c_attn.weight</c>, with or without the <c>transformer.</c> prefix). F16/BF16 tensors are
/// converted to F32 once at load (the fp32 kernels then run them); F32 tensors stay views of the memory map.
/// A tensor the family does not use is an error, so an unsupported variant is never run with parts missing.
/// </summary>
internal sealed class HfWeights(SafetensorsCheckpoint checkpoint, ModelConfig config)
{
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public static object Build(SafetensorsCheckpoint checkpoint, ModelConfig config)
    {
        var w = new HfWeights(checkpoint, config);
        object weights = config.Architecture == "gpt2" ? w.Gpt2() : w.Llama();
        w.CheckAllUsed();
        return weights;
    }

    private Tensor? Optional(string name, params int[] shape)
    {
        var t = checkpoint.TryGet(name);
        if (t is null)
            return null;
        _used.Add(name);
        if (!t.Shape.SequenceEqual(shape))
            throw new ModelFormatException(checkpoint.Source, $"tensor '{name}' has shape [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", shape)}] from config.json");
        return TensorConvert.ToF32(t);
    }

    private Tensor Required(string name, params int[] shape) =>
        Optional(name, shape) ?? throw new ModelFormatException(checkpoint.Source, $"missing tensor '{name}' (a {config.Architecture} checkpoint needs it)");

    private LlamaWeights Llama()
    {
        var c = config;
        int dim = c.Dim, hidden = c.HiddenDim, qDim = c.QueryDim, kvDim = c.KvDim, hs = c.HeadSize;
        var embedding = Required("model.embed_tokens.weight", c.VocabSize, dim);
        var layers = new LlamaLayer[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            Tensor wq, wk, wv, gate, up;
            if (c.Architecture == "phi3")
            {
                // Phi-3 fuses q/k/v and gate/up; their rows are split into views (no copy).
                var qkv = Required(p + "self_attn.qkv_proj.weight", qDim + 2 * kvDim, dim);
                wq = qkv.RowSlice(p + "q", 0, qDim);
                wk = qkv.RowSlice(p + "k", qDim, kvDim);
                wv = qkv.RowSlice(p + "v", qDim + kvDim, kvDim);
                var gateUp = Required(p + "mlp.gate_up_proj.weight", 2 * hidden, dim);
                gate = gateUp.RowSlice(p + "gate", 0, hidden);
                up = gateUp.RowSlice(p + "up", hidden, hidden);
            }
            else
            {
                wq = Required(p + "self_attn.q_proj.weight", qDim, dim);
                wk = Required(p + "self_attn.k_proj.weight", kvDim, dim);
                wv = Required(p + "self_attn.v_proj.weight", kvDim, dim);
                gate = Required(p + "mlp.gate_proj.weight", hidden, dim);
                up = Required(p + "mlp.up_proj.weight", hidden, dim);
            }
            bool gemma2 = c.Architecture == "gemma2";
            layers[l] = new LlamaLayer
            {
                AttentionNorm = Required(p + "input_layernorm.weight", dim),
                Wq = wq,
                Wk = wk,
                Wv = wv,
                Wo = Required(p + "self_attn.o_proj.weight", dim, qDim),
                BiasQ = Optional(p + "self_attn.q_proj.bias", qDim),
                BiasK = Optional(p + "self_attn.k_proj.bias", kvDim),
                BiasV = Optional(p + "self_attn.v_proj.bias", kvDim),
                QNorm = Optional(p + "self_attn.q_norm.weight", hs),
                KNorm = Optional(p + "self_attn.k_norm.weight", hs),
                // Gemma 2 names its pre-feed-forward norm differently and adds two post-norms.
                FfnNorm = Required(p + (gemma2 ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"), dim),
                PostAttentionNorm = gemma2 ? Required(p + "post_attention_layernorm.weight", dim) : null,
                PostFfnNorm = gemma2 ? Required(p + "post_feedforward_layernorm.weight", dim) : null,
                WGate = gate,
                WUp = up,
                WDown = Required(p + "mlp.down_proj.weight", dim, hidden),
            };
            Ignore(p + "self_attn.rotary_emb.inv_freq");
        }
        var output = Optional("lm_head.weight", c.VocabSize, dim);
        return new LlamaWeights
        {
            TokenEmbedding = embedding,
            Layers = layers,
            FinalNorm = Required("model.norm.weight", dim),
            // A checkpoint without lm_head is tied whatever the config says (save_pretrained omits tied copies).
            Output = c.TiedEmbeddings || output is null ? embedding : output,
        };
    }

    private Gpt2Weights Gpt2()
    {
        var c = config;
        int dim = c.Dim, hidden = c.HiddenDim;
        string root = checkpoint.Contains("transformer.wte.weight") ? "transformer." : "";
        // Conv1D stores [in, out]; the kernels want [out, in].
        Tensor Conv1D(string name, int inDim, int outDim) => TensorConvert.Transposed(Required(name, inDim, outDim));
        var layers = new Gpt2Layer[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string p = $"{root}h.{l}.";
            layers[l] = new Gpt2Layer
            {
                Ln1Weight = Required(p + "ln_1.weight", dim),
                Ln1Bias = Required(p + "ln_1.bias", dim),
                Wqkv = Conv1D(p + "attn.c_attn.weight", dim, 3 * dim),
                Bqkv = Required(p + "attn.c_attn.bias", 3 * dim),
                Wo = Conv1D(p + "attn.c_proj.weight", dim, dim),
                Bo = Required(p + "attn.c_proj.bias", dim),
                Ln2Weight = Required(p + "ln_2.weight", dim),
                Ln2Bias = Required(p + "ln_2.bias", dim),
                WFc = Conv1D(p + "mlp.c_fc.weight", dim, hidden),
                BFc = Required(p + "mlp.c_fc.bias", hidden),
                WProj = Conv1D(p + "mlp.c_proj.weight", hidden, dim),
                BProj = Required(p + "mlp.c_proj.bias", dim),
            };
            // Causal-mask buffers some checkpoints carry.
            Ignore(p + "attn.bias");
            Ignore(p + "attn.masked_bias");
        }
        var embedding = Required(root + "wte.weight", c.VocabSize, dim);
        if (Optional("lm_head.weight", c.VocabSize, dim) is { } head && !head.AsFloats().SequenceEqual(embedding.AsFloats()))
            throw new ModelFormatException(checkpoint.Source, "GPT-2's lm_head.weight must equal the token embedding (tied)");
        return new Gpt2Weights
        {
            TokenEmbedding = embedding,
            PositionEmbedding = Required(root + "wpe.weight", c.ContextLength, dim),
            Layers = layers,
            LnFWeight = Required(root + "ln_f.weight", dim),
            LnFBias = Required(root + "ln_f.bias", dim),
        };
    }

    private void Ignore(string name) => _used.Add(name);

    private void CheckAllUsed()
    {
        var unused = checkpoint.Names.Where(n => !_used.Contains(n)).OrderBy(n => n, StringComparer.Ordinal).ToList();
        if (unused.Count > 0)
            throw new ModelFormatException(checkpoint.Source,
                $"{unused.Count} tensor(s) this {config.Architecture} loader does not use, e.g. '{unused[0]}': an unsupported variant of the architecture");
    }
}
