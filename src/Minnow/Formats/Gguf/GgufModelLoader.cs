using Minnow.Models;
using Minnow.Tensors;

namespace Minnow.Formats.Gguf;

/// <summary>
/// Opens a GGUF model: the configuration comes from the file's own <c>{arch}.*</c> keys, tensors are mapped from
/// llama.cpp's names (<c>blk.{i}.attn_q.weight</c> …). llama.cpp's converter permutes Llama's q/k rows for
/// adjacent-pair ("normal") RoPE, so arch "llama" runs with interleaved pairs and the others (Qwen, Phi-3, Gemma) with
/// half-split ("neox") pairs; it also stores Gemma's norms as 1+w, so no offset is added here.
/// </summary>
public static class GgufModelLoader
{
    public static readonly string[] SupportedArchitectures = ["llama", "qwen2", "qwen3", "phi3", "gemma", "gemma2", "gpt2"];

    /// <summary>True when the file starts with the GGUF magic.</summary>
    public static bool IsGguf(string path)
    {
        if (!File.Exists(path))
            return false;
        using var stream = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return stream.Read(magic) == 4 && magic.SequenceEqual("GGUF"u8);
    }

    /// <summary>Opens a GGUF model with its tokenizer, chat template and stop tokens from the file's metadata.</summary>
    public static LoadedModel Load(string path, ModelLoadOptions options)
    {
        var file = GgufFile.Open(path);
        try
        {
            var config = ReadConfig(file);
            ILanguageModel model = ReadWeights(file, config) switch
            {
                Gpt2Weights g => new Gpt2Model(config, g, options.Threads, file),
                LlamaWeights l => new LlamaModel(config, l, options.Threads, file),
                _ => throw new InvalidOperationException("unreachable"),
            };
            try
            {
                var tokenizer = options.TokenizerPath is not null ? Tokenizers.TokenizerLoader.Load(options.TokenizerPath) : GgufTokenizer.Read(file);
                if (tokenizer is not null)
                    Tokenizers.TokenizerLoader.CheckFits(tokenizer, config.VocabSize, options.TokenizerPath ?? path);
                var stops = new HashSet<int>();
                if (file.GetInt("tokenizer.ggml.eos_token_id") is int eos)
                    stops.Add(eos);
                if (tokenizer?.EosId is int tokenizerEos)
                    stops.Add(tokenizerEos);
                var tokens = file.GetArray<string>("tokenizer.ggml.tokens");
                string? Token(string key) => file.GetInt(key) is int id && tokens is not null && (uint)id < (uint)tokens.Length ? tokens[id] : null;
                return new LoadedModel
                {
                    Model = model,
                    Tokenizer = tokenizer,
                    Source = path,
                    Format = "gguf",
                    StopTokens = stops,
                    ChatTemplate = file.GetString("tokenizer.chat_template"),
                    BosToken = Token("tokenizer.ggml.bos_token_id"),
                    EosToken = Token("tokenizer.ggml.eos_token_id"),
                    TensorTypes = file.Tensors.GroupBy(t => t.DType.ToString()).ToDictionary(g => g.Key, g => g.Count()),
                };
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The model configuration the file's metadata describes.</summary>
    public static ModelConfig ReadConfig(GgufFile f)
    {
        string arch = f.GetString("general.architecture") ?? throw new ModelFormatException(f.Path, "missing metadata 'general.architecture'");
        if (!SupportedArchitectures.Contains(arch))
            throw new ModelFormatException(f.Path, $"unsupported architecture '{arch}' (supported: {string.Join(", ", SupportedArchitectures)})");
        int Required(string key) => f.GetInt($"{arch}.{key}") ?? throw new ModelFormatException(f.Path, $"missing metadata '{arch}.{key}'");
        int dim = Required("embedding_length");
        int heads = Required("attention.head_count");
        int vocab = f.GetInt($"{arch}.vocab_size") ?? f.GetArray<string>("tokenizer.ggml.tokens")?.Length
            ?? f.TryTensor("token_embd.weight")?.Rows ?? throw new ModelFormatException(f.Path, $"missing metadata '{arch}.vocab_size'");
        var config = new ModelConfig
        {
            Architecture = arch,
            Dim = dim,
            HiddenDim = Required("feed_forward_length"),
            Layers = Required("block_count"),
            Heads = heads,
            KvHeads = f.GetInt($"{arch}.attention.head_count_kv") ?? heads,
            VocabSize = vocab,
            ContextLength = Required("context_length"),
            HeadDim = f.GetInt($"{arch}.attention.key_length") ?? 0,
            NormEps = (float)(f.GetFloat($"{arch}.attention.layer_norm_rms_epsilon") ?? f.GetFloat($"{arch}.attention.layer_norm_epsilon") ?? 1e-5),
            RopeTheta = f.GetFloat($"{arch}.rope.freq_base") ?? 10000.0,
            RopeStyle = arch == "llama" ? RopeStyle.Interleaved : RopeStyle.Half,
            RopeScaling = RopeScalingOf(f, arch),
            TiedEmbeddings = !f.Contains("output.weight"),
            Activation = arch is "gemma" or "gemma2" or "gpt2" ? Activation.GeluTanh : Activation.Silu,
            AttentionScale = (float)(f.GetFloat($"{arch}.attention.scale") ?? 0),
        };
        if (f.GetInt($"{arch}.rope.dimension_count") is int ropeDims && arch != "gpt2" && ropeDims != config.HeadSize)
            throw new ModelFormatException(f.Path, $"partial rotary embeddings ({ropeDims} of {config.HeadSize} dimensions) are not supported");
        return arch switch
        {
            "gemma" => config with { EmbeddingScale = MathF.Sqrt(dim) },
            "gemma2" => config with
            {
                EmbeddingScale = MathF.Sqrt(dim),
                AttentionSoftCap = (float)(f.GetFloat("gemma2.attn_logit_softcapping") ?? 0),
                FinalSoftCap = (float)(f.GetFloat("gemma2.final_logit_softcapping") ?? 0),
                SlidingWindow = f.GetInt("gemma2.attention.sliding_window") ?? 0,
                SlidingWindowEvenLayersOnly = true,
            },
            "gpt2" => config with { TiedEmbeddings = true },
            _ => config,
        };
    }

    private static RopeScaling? RopeScalingOf(GgufFile f, string arch)
    {
        // Per-frequency factors stored as tensors: Llama 3.1's rope_freqs, Phi-3's LongRoPE short/long factors.
        if (f.TryTensor("rope_freqs.weight") is { } freqs)
            return new FrequencyFactorRopeScaling(ToDoubles(freqs));
        if (f.TryTensor("rope_factors_short.weight") is { } shortFactors && f.TryTensor("rope_factors_long.weight") is { } longFactors)
        {
            int original = f.GetInt($"{arch}.rope.scaling.original_context_length")
                ?? throw new ModelFormatException(f.Path, $"LongRoPE factors without '{arch}.rope.scaling.original_context_length'");
            return new LongRopeScaling(ToDoubles(shortFactors), ToDoubles(longFactors), original);
        }
        string? type = f.GetString($"{arch}.rope.scaling.type");
        return type switch
        {
            null or "none" => null,
            "linear" => new LinearRopeScaling(f.GetFloat($"{arch}.rope.scaling.factor") ?? throw new ModelFormatException(f.Path, $"linear RoPE scaling without '{arch}.rope.scaling.factor'")),
            _ => throw new ModelFormatException(f.Path, $"unsupported RoPE scaling type '{type}'"),
        };
    }

    private static double[] ToDoubles(Tensor t) => TensorConvert.ToF32(t).AsFloats().ToArray().Select(x => (double)x).ToArray();

    /// <summary>The model's weights, mapped from llama.cpp's tensor names with every shape checked.</summary>
    public static object ReadWeights(GgufFile f, ModelConfig c)
    {
        var used = new HashSet<string>(StringComparer.Ordinal) { "rope_freqs.weight", "rope_factors_short.weight", "rope_factors_long.weight" };
        Tensor? Optional(string name, params int[] shape)
        {
            if (!f.Contains(name))
                return null;
            used.Add(name);
            var t = f.Tensor(name);
            if (!t.Shape.SequenceEqual(shape))
                throw new ModelFormatException(f.Path, $"tensor '{name}' has shape [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", shape)}] from the metadata");
            return Prepare(t);
        }
        Tensor Required(string name, params int[] shape) =>
            Optional(name, shape) ?? throw new ModelFormatException(f.Path, $"missing tensor '{name}' (a {c.Architecture} model needs it)");

        object weights = c.Architecture == "gpt2" ? Gpt2(c, Required, Optional) : Llama(c, Required, Optional);
        var unused = f.Tensors.Select(t => t.Name).Where(n => !used.Contains(n)).ToList();
        if (unused.Count > 0)
            throw new ModelFormatException(f.Path, $"{unused.Count} tensor(s) the {c.Architecture} loader does not use, e.g. '{unused[0]}': an unsupported variant");
        return weights;
    }

    /// <summary>
    /// How a stored tensor is run: F32 and the block-quantized types stay in the map (quantized kernels use the blocks
    /// in place); F16/BF16 are converted to F32 once.
    /// </summary>
    private static Tensor Prepare(Tensor t) => t.DType is DType.F16 or DType.BF16 ? TensorConvert.ToF32(t) : t;

    private delegate Tensor? TensorGetter(string name, params int[] shape);

    private static LlamaWeights Llama(ModelConfig c, Func<string, int[], Tensor> required, TensorGetter optional)
    {
        int dim = c.Dim, hidden = c.HiddenDim, qDim = c.QueryDim, kvDim = c.KvDim, hs = c.HeadSize;
        var embedding = required("token_embd.weight", [c.VocabSize, dim]);
        var layers = new LlamaLayer[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string p = $"blk.{l}.";
            Tensor wq, wk, wv, gate, up;
            if (c.Architecture == "phi3")
            {
                var qkv = required(p + "attn_qkv.weight", [qDim + 2 * kvDim, dim]);
                wq = qkv.RowSlice(p + "q", 0, qDim);
                wk = qkv.RowSlice(p + "k", qDim, kvDim);
                wv = qkv.RowSlice(p + "v", qDim + kvDim, kvDim);
                var gateUp = required(p + "ffn_up.weight", [2 * hidden, dim]);
                gate = gateUp.RowSlice(p + "gate", 0, hidden);
                up = gateUp.RowSlice(p + "up", hidden, hidden);
            }
            else
            {
                wq = required(p + "attn_q.weight", [qDim, dim]);
                wk = required(p + "attn_k.weight", [kvDim, dim]);
                wv = required(p + "attn_v.weight", [kvDim, dim]);
                gate = required(p + "ffn_gate.weight", [hidden, dim]);
                up = required(p + "ffn_up.weight", [hidden, dim]);
            }
            layers[l] = new LlamaLayer
            {
                AttentionNorm = required(p + "attn_norm.weight", [dim]),
                Wq = wq,
                Wk = wk,
                Wv = wv,
                Wo = required(p + "attn_output.weight", [dim, qDim]),
                BiasQ = optional(p + "attn_q.bias", qDim),
                BiasK = optional(p + "attn_k.bias", kvDim),
                BiasV = optional(p + "attn_v.bias", kvDim),
                QNorm = optional(p + "attn_q_norm.weight", hs),
                KNorm = optional(p + "attn_k_norm.weight", hs),
                FfnNorm = required(p + "ffn_norm.weight", [dim]),
                PostAttentionNorm = optional(p + "post_attention_norm.weight", dim),
                PostFfnNorm = optional(p + "post_ffw_norm.weight", dim),
                WGate = gate,
                WUp = up,
                WDown = required(p + "ffn_down.weight", [dim, hidden]),
            };
        }
        var output = optional("output.weight", c.VocabSize, dim);
        return new LlamaWeights
        {
            TokenEmbedding = embedding,
            Layers = layers,
            FinalNorm = required("output_norm.weight", [dim]),
            Output = output ?? embedding,
        };
    }

    private static Gpt2Weights Gpt2(ModelConfig c, Func<string, int[], Tensor> required, TensorGetter optional)
    {
        int dim = c.Dim, hidden = c.HiddenDim;
        var layers = new Gpt2Layer[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string p = $"blk.{l}.";
            layers[l] = new Gpt2Layer
            {
                Ln1Weight = required(p + "attn_norm.weight", [dim]),
                Ln1Bias = required(p + "attn_norm.bias", [dim]),
                Wqkv = required(p + "attn_qkv.weight", [3 * dim, dim]),
                Bqkv = required(p + "attn_qkv.bias", [3 * dim]),
                Wo = required(p + "attn_output.weight", [dim, dim]),
                Bo = required(p + "attn_output.bias", [dim]),
                Ln2Weight = required(p + "ffn_norm.weight", [dim]),
                Ln2Bias = required(p + "ffn_norm.bias", [dim]),
                WFc = required(p + "ffn_up.weight", [hidden, dim]),
                BFc = required(p + "ffn_up.bias", [hidden]),
                WProj = required(p + "ffn_down.weight", [dim, hidden]),
                BProj = required(p + "ffn_down.bias", [dim]),
            };
        }
        var embedding = required("token_embd.weight", [c.VocabSize, dim]);
        optional("output.weight", c.VocabSize, dim);
        return new Gpt2Weights
        {
            TokenEmbedding = embedding,
            PositionEmbedding = required("position_embd.weight", [c.ContextLength, dim]),
            Layers = layers,
            LnFWeight = required("output_norm.weight", [dim]),
            LnFBias = required("output_norm.bias", [dim]),
        };
    }
}
