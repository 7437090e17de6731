using System.Text.Json;
using Minnow.Models;

namespace Minnow.Formats.HuggingFace;

/// <summary>
/// Reads a HF <c>config.json</c> into a <see cref="ModelConfig"/>, applying each family's conventions and defaults as
/// transformers' configuration classes do (e.g. Gemma's (1+w) norms and sqrt(hidden) embedding scale, Gemma 2's
/// soft-capping and query_pre_attn_scalar, GPT-2's n_embd/n_layer names). Unknown families and unsupported settings
/// are errors that name the key, never silently wrong numbers.
/// </summary>
public static class HfConfig
{
    /// <summary>model_type values this loader understands.</summary>
    public static readonly string[] SupportedTypes = ["llama", "mistral", "qwen2", "qwen3", "phi3", "gemma", "gemma2", "gpt2"];

    public static ModelConfig Read(string path)
    {
        var root = JsonFile.ReadObject(path);
        var c = new Reader(path, root);
        string type = c.String("model_type") ?? throw new ModelFormatException(path, "missing required key 'model_type'");
        if (!SupportedTypes.Contains(type))
            throw new ModelFormatException(path, $"unsupported architecture '{type}' (supported: {string.Join(", ", SupportedTypes)})");
        return type == "gpt2" ? Gpt2(c) : LlamaFamily(type, c);
    }

    private static ModelConfig Gpt2(Reader c)
    {
        int dim = c.RequiredInt("n_embd");
        string activation = c.String("activation_function") ?? "gelu_new";
        if (activation is not ("gelu_new" or "gelu_pytorch_tanh"))
            throw c.Unsupported("activation_function", activation);
        if (c.Bool("scale_attn_by_inverse_layer_idx") == true || c.Bool("reorder_and_upcast_attn") == true)
            throw c.Unsupported("scale_attn_by_inverse_layer_idx/reorder_and_upcast_attn", "true");
        int heads = c.RequiredInt("n_head");
        return new ModelConfig
        {
            Architecture = "gpt2",
            Dim = dim,
            HiddenDim = c.Int("n_inner") ?? 4 * dim,
            Layers = c.RequiredInt("n_layer"),
            Heads = heads,
            KvHeads = heads,
            VocabSize = c.RequiredInt("vocab_size"),
            ContextLength = c.Int("n_positions") ?? c.RequiredInt("n_ctx"),
            NormEps = (float)(c.Double("layer_norm_epsilon") ?? 1e-5),
            TiedEmbeddings = true,
            Activation = Activation.GeluTanh,
            AttentionScale = c.Bool("scale_attn_weights") == false ? 1f : 0f,
        };
    }

    private static ModelConfig LlamaFamily(string type, Reader c)
    {
        int dim = c.RequiredInt("hidden_size");
        int heads = c.RequiredInt("num_attention_heads");
        bool gemma = type is "gemma" or "gemma2";
        string activation = c.String("hidden_activation") ?? c.String("hidden_act") ?? "silu";
        var act = gemma ? Activation.GeluTanh : activation switch
        {
            "silu" or "swish" => Activation.Silu,
            "gelu_pytorch_tanh" or "gelu_new" => Activation.GeluTanh,
            _ => throw c.Unsupported(c.String("hidden_activation") is null ? "hidden_act" : "hidden_activation", activation),
        };
        int contextLength = c.RequiredInt("max_position_embeddings");
        var config = new ModelConfig
        {
            Architecture = type,
            Dim = dim,
            HiddenDim = c.RequiredInt("intermediate_size"),
            Layers = c.RequiredInt("num_hidden_layers"),
            Heads = heads,
            KvHeads = c.Int("num_key_value_heads") ?? heads,
            VocabSize = c.RequiredInt("vocab_size"),
            ContextLength = contextLength,
            HeadDim = c.Int("head_dim") ?? 0,
            NormEps = (float)(c.Double("rms_norm_eps") ?? 1e-6),
            RopeTheta = c.Double("rope_theta") ?? 10000.0,
            RopeStyle = RopeStyle.Half,
            RopeScaling = RopeScalingOf(c, contextLength),
            TiedEmbeddings = c.Bool("tie_word_embeddings") ?? gemma,
            Activation = act,
        };
        if (c.Double("partial_rotary_factor") is double partial && partial != 1.0)
            throw c.Unsupported("partial_rotary_factor", partial.ToString(System.Globalization.CultureInfo.InvariantCulture));
        switch (type)
        {
            case "gemma":
                config = config with { NormWeightOffset = 1f, EmbeddingScale = MathF.Sqrt(dim) };
                break;
            case "gemma2":
                config = config with
                {
                    NormWeightOffset = 1f,
                    EmbeddingScale = MathF.Sqrt(dim),
                    AttentionScale = c.Double("query_pre_attn_scalar") is double scalar ? (float)(1 / Math.Sqrt(scalar)) : 0f,
                    AttentionSoftCap = (float)(c.Double("attn_logit_softcapping") ?? 0),
                    FinalSoftCap = (float)(c.Double("final_logit_softcapping") ?? 0),
                    SlidingWindow = c.Int("sliding_window") ?? 0,
                    SlidingWindowEvenLayersOnly = true,
                };
                break;
            case "mistral":
                config = config with { SlidingWindow = c.Int("sliding_window") ?? 0 };
                break;
        }
        return config;
    }

    private static RopeScaling? RopeScalingOf(Reader c, int contextLength)
    {
        if (!c.Root.TryGetProperty("rope_scaling", out var s) || s.ValueKind == JsonValueKind.Null)
            return null;
        if (s.ValueKind != JsonValueKind.Object)
            throw c.Unsupported("rope_scaling", s.GetRawText());
        var r = new Reader(c.Path, s);
        string kind = r.String("rope_type") ?? r.String("type") ?? "default";
        switch (kind)
        {
            case "default":
                return null;
            case "llama3":
                return new Llama3RopeScaling(r.RequiredDouble("factor"), r.RequiredDouble("low_freq_factor"), r.RequiredDouble("high_freq_factor"),
                    r.RequiredInt("original_max_position_embeddings"));
            case "linear":
                return new LinearRopeScaling(r.RequiredDouble("factor"));
            case "longrope" or "su":
                int original = c.Int("original_max_position_embeddings") ?? r.Int("original_max_position_embeddings")
                    ?? throw new ModelFormatException(c.Path, "longrope scaling needs 'original_max_position_embeddings'");
                return new LongRopeScaling(r.RequiredDoubles("short_factor"), r.RequiredDoubles("long_factor"), original);
            default:
                throw c.Unsupported("rope_scaling.rope_type", kind);
        }
    }

    /// <summary>Typed access to config keys with errors that name the file and key.</summary>
    private sealed class Reader(string path, JsonElement root)
    {
        public string Path => path;
        public JsonElement Root => root;

        private JsonElement? Get(string key) =>
            root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

        public string? String(string key) => Get(key) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

        public bool? Bool(string key) => Get(key) switch
        {
            { ValueKind: JsonValueKind.True } => true,
            { ValueKind: JsonValueKind.False } => false,
            null => null,
            _ => throw new ModelFormatException(path, $"'{key}' must be true or false"),
        };

        public int? Int(string key) => Get(key) switch
        {
            null => null,
            { ValueKind: JsonValueKind.Number } v when v.TryGetInt32(out int i) => i,
            _ => throw new ModelFormatException(path, $"'{key}' must be an integer"),
        };

        public double? Double(string key) => Get(key) switch
        {
            null => null,
            { ValueKind: JsonValueKind.Number } v => v.GetDouble(),
            _ => throw new ModelFormatException(path, $"'{key}' must be a number"),
        };

        public int RequiredInt(string key) => Int(key) ?? throw new ModelFormatException(path, $"missing required key '{key}'");

        public double RequiredDouble(string key) => Double(key) ?? throw new ModelFormatException(path, $"missing required key '{key}'");

        public double[] RequiredDoubles(string key) => Get(key) is { ValueKind: JsonValueKind.Array } v
            ? v.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number ? x.GetDouble() : throw new ModelFormatException(path, $"'{key}' must hold numbers")).ToArray()
            : throw new ModelFormatException(path, $"missing required key '{key}'");

        public ModelFormatException Unsupported(string key, string value) => new(path, $"unsupported setting {key} = {value}");
    }
}
