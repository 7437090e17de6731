using System.Text.Json;
using System.Text.Json.Nodes;
using Minnow.Formats.Safetensors;
using Minnow.Models;
using Minnow.Tensors;

namespace Minnow.Formats.HuggingFace;

/// <summary>
/// Writes a model as a HF folder (<c>config.json</c> + <c>model.safetensors</c>) that transformers and Minnow load:
/// tensor names as save_pretrained writes them, Conv1D layout for GPT-2, Phi-3's fused projections re-fused, and
/// query/key rows permuted to HF's half-split RoPE when the model came from an interleaved format (llama2.c, GGUF).
/// </summary>
public static class HfModelWriter
{
    /// <summary>Writes <paramref name="model"/>'s weights stored as <paramref name="dtype"/> (F32, F16 or BF16).</summary>
    public static void Write(string folder, ILanguageModel model, DType dtype = DType.F32)
    {
        switch (model)
        {
            case LlamaModel llama:
                Write(folder, llama.Config, llama.Weights, dtype);
                break;
            case Gpt2Model gpt2:
                Write(folder, gpt2.Config, gpt2.Weights, dtype);
                break;
            default:
                throw new InvalidInputException($"{model.GetType().Name} cannot be written as a HF folder");
        }
    }

    public static void Write(string folder, ModelConfig config, LlamaWeights weights, DType dtype = DType.F32)
    {
        var hfConfig = config with { RopeStyle = RopeStyle.Half };
        WriteFolder(folder, ConfigJson(hfConfig, dtype), LlamaTensors(config, weights), dtype);
    }

    public static void Write(string folder, ModelConfig config, Gpt2Weights weights, DType dtype = DType.F32) =>
        WriteFolder(folder, ConfigJson(config, dtype), Gpt2Tensors(weights), dtype);

    /// <summary>The files besides the weights a model folder carries, copied from the source model: its tokenizer and configs.</summary>
    private static readonly string[] TokenizerFiles =
        ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "tokenizer.model", "vocab.json", "merges.txt"];

    /// <summary>
    /// Gives a written folder the source model's tokenizer: a HF source's tokenizer and generation files are copied; a
    /// llama2.c source's tokenizer.bin is copied beside the weights; the chat template and BOS/EOS strings are kept in
    /// tokenizer_config.json when the source had none.
    /// </summary>
    public static void WriteTokenizerFiles(string folder, LoadedModel source)
    {
        string from = Directory.Exists(source.Source) ? source.Source : Path.GetDirectoryName(Path.GetFullPath(source.Source))!;
        bool copied = false;
        if (Directory.Exists(source.Source))
            foreach (string name in TokenizerFiles)
                if (File.Exists(Path.Combine(from, name)))
                {
                    File.Copy(Path.Combine(from, name), Path.Combine(folder, name), overwrite: true);
                    copied = true;
                }
        if (source.Format == "llama2c" && File.Exists(Path.Combine(from, "tokenizer.bin")))
            File.Copy(Path.Combine(from, "tokenizer.bin"), Path.Combine(folder, "tokenizer.bin"), overwrite: true);
        if (!copied && (source.ChatTemplate is not null || source.BosToken is not null || source.EosToken is not null))
        {
            var config = new JsonObject { ["bos_token"] = source.BosToken, ["eos_token"] = source.EosToken, ["chat_template"] = source.ChatTemplate };
            File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }
    }

    private static void WriteFolder(string folder, JsonObject config, IEnumerable<Tensor> tensors, DType dtype)
    {
        if (dtype is not (DType.F32 or DType.F16 or DType.BF16))
            throw new InvalidInputException($"a HF folder stores F32, F16 or BF16 weights, not {dtype}");
        Directory.CreateDirectory(folder);
        var stored = tensors.Select(t => TensorConvert.FromF32(TensorConvert.ToF32(t), dtype)).ToList();
        SafetensorsWriter.Write(Path.Combine(folder, SafetensorsCheckpoint.SingleFileName), stored, new Dictionary<string, string> { ["format"] = "pt" });
        string configPath = Path.Combine(folder, "config.json");
        File.WriteAllText(configPath + ".tmp", config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(configPath + ".tmp", configPath, overwrite: true);
    }

    private static IEnumerable<Tensor> LlamaTensors(ModelConfig c, LlamaWeights w)
    {
        bool permute = c.RopeStyle == RopeStyle.Interleaved;
        Tensor Rope(Tensor t, int heads) => permute ? RopeRows.InterleavedToHalf(t, heads) : t;
        Tensor RopeVector(Tensor t, int heads) => permute ? RopeRows.InterleavedToHalf(t.Reshape(t.Columns, 1), heads).Reshape(t.Columns) : t;
        // HF Gemma stores w and multiplies by 1+w; a model read from GGUF holds 1+w with no offset.
        float shift = c.NormWeightOffset - (c.Architecture is "gemma" or "gemma2" ? 1f : 0f);
        Tensor Norm(Tensor t) => shift == 0 ? t : TensorConvert.Plus(t, shift);
        yield return w.TokenEmbedding.WithName("model.embed_tokens.weight");
        for (int l = 0; l < w.Layers.Length; l++)
        {
            var layer = w.Layers[l];
            string p = $"model.layers.{l}.";
            var wq = Rope(layer.Wq, c.Heads);
            var wk = Rope(layer.Wk, c.KvHeads);
            if (c.Architecture == "phi3")
            {
                yield return TensorConvert.ConcatenateRows(p + "self_attn.qkv_proj.weight", wq, wk, layer.Wv);
                yield return TensorConvert.ConcatenateRows(p + "mlp.gate_up_proj.weight", layer.WGate, layer.WUp);
            }
            else
            {
                yield return wq.WithName(p + "self_attn.q_proj.weight");
                yield return wk.WithName(p + "self_attn.k_proj.weight");
                yield return layer.Wv.WithName(p + "self_attn.v_proj.weight");
                yield return layer.WGate.WithName(p + "mlp.gate_proj.weight");
                yield return layer.WUp.WithName(p + "mlp.up_proj.weight");
            }
            yield return layer.Wo.WithName(p + "self_attn.o_proj.weight");
            yield return layer.WDown.WithName(p + "mlp.down_proj.weight");
            yield return Norm(layer.AttentionNorm).WithName(p + "input_layernorm.weight");
            if (layer.BiasQ is not null) yield return RopeVector(layer.BiasQ, c.Heads).WithName(p + "self_attn.q_proj.bias");
            if (layer.BiasK is not null) yield return RopeVector(layer.BiasK, c.KvHeads).WithName(p + "self_attn.k_proj.bias");
            if (layer.BiasV is not null) yield return layer.BiasV.WithName(p + "self_attn.v_proj.bias");
            if (layer.QNorm is not null) yield return RopeVector(Norm(layer.QNorm), 1).WithName(p + "self_attn.q_norm.weight");
            if (layer.KNorm is not null) yield return RopeVector(Norm(layer.KNorm), 1).WithName(p + "self_attn.k_norm.weight");
            if (layer.PostAttentionNorm is not null)
            {
                yield return Norm(layer.PostAttentionNorm).WithName(p + "post_attention_layernorm.weight");
                yield return Norm(layer.FfnNorm).WithName(p + "pre_feedforward_layernorm.weight");
            }
            else
            {
                yield return Norm(layer.FfnNorm).WithName(p + "post_attention_layernorm.weight");
            }
            if (layer.PostFfnNorm is not null) yield return Norm(layer.PostFfnNorm).WithName(p + "post_feedforward_layernorm.weight");
        }
        yield return Norm(w.FinalNorm).WithName("model.norm.weight");
        if (!ReferenceEquals(w.Output, w.TokenEmbedding))
            yield return w.Output.WithName("lm_head.weight");
    }

    private static IEnumerable<Tensor> Gpt2Tensors(Gpt2Weights w)
    {
        Tensor Conv1D(Tensor t, string name) => TensorConvert.Transposed(t).WithName(name);
        yield return w.TokenEmbedding.WithName("transformer.wte.weight");
        yield return w.PositionEmbedding.WithName("transformer.wpe.weight");
        for (int l = 0; l < w.Layers.Length; l++)
        {
            var layer = w.Layers[l];
            string p = $"transformer.h.{l}.";
            yield return layer.Ln1Weight.WithName(p + "ln_1.weight");
            yield return layer.Ln1Bias.WithName(p + "ln_1.bias");
            yield return Conv1D(layer.Wqkv, p + "attn.c_attn.weight");
            yield return layer.Bqkv.WithName(p + "attn.c_attn.bias");
            yield return Conv1D(layer.Wo, p + "attn.c_proj.weight");
            yield return layer.Bo.WithName(p + "attn.c_proj.bias");
            yield return layer.Ln2Weight.WithName(p + "ln_2.weight");
            yield return layer.Ln2Bias.WithName(p + "ln_2.bias");
            yield return Conv1D(layer.WFc, p + "mlp.c_fc.weight");
            yield return layer.BFc.WithName(p + "mlp.c_fc.bias");
            yield return Conv1D(layer.WProj, p + "mlp.c_proj.weight");
            yield return layer.BProj.WithName(p + "mlp.c_proj.bias");
        }
        yield return w.LnFWeight.WithName("transformer.ln_f.weight");
        yield return w.LnFBias.WithName("transformer.ln_f.bias");
    }

    private static readonly Dictionary<string, string> ClassNames = new()
    {
        ["llama"] = "LlamaForCausalLM", ["mistral"] = "MistralForCausalLM", ["qwen2"] = "Qwen2ForCausalLM", ["qwen3"] = "Qwen3ForCausalLM",
        ["phi3"] = "Phi3ForCausalLM", ["gemma"] = "GemmaForCausalLM", ["gemma2"] = "Gemma2ForCausalLM", ["gpt2"] = "GPT2LMHeadModel",
    };

    /// <summary>config.json for <paramref name="c"/>, with the keys HfConfig reads (the inverse of <see cref="HfConfig.Read"/>).</summary>
    private static JsonObject ConfigJson(ModelConfig c, DType dtype)
    {
        string type = c.Architecture;
        if (!ClassNames.TryGetValue(type, out string? className))
            throw new InvalidInputException($"architecture '{type}' cannot be written as a HF folder");
        string torchDtype = dtype switch { DType.F16 => "float16", DType.BF16 => "bfloat16", _ => "float32" };
        if (type == "gpt2")
            return new JsonObject
            {
                ["architectures"] = new JsonArray(className), ["model_type"] = type,
                ["n_embd"] = c.Dim, ["n_inner"] = c.HiddenDim, ["n_layer"] = c.Layers, ["n_head"] = c.Heads,
                ["vocab_size"] = c.VocabSize, ["n_positions"] = c.ContextLength, ["n_ctx"] = c.ContextLength,
                ["layer_norm_epsilon"] = c.NormEps, ["activation_function"] = "gelu_new", ["tie_word_embeddings"] = true,
                ["torch_dtype"] = torchDtype,
            };
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(className), ["model_type"] = type,
            ["hidden_size"] = c.Dim, ["intermediate_size"] = c.HiddenDim, ["num_hidden_layers"] = c.Layers,
            ["num_attention_heads"] = c.Heads, ["num_key_value_heads"] = c.KvHeads, ["head_dim"] = c.HeadSize,
            ["vocab_size"] = c.VocabSize, ["max_position_embeddings"] = c.ContextLength,
            ["rms_norm_eps"] = c.NormEps, ["rope_theta"] = c.RopeTheta, ["tie_word_embeddings"] = c.TiedEmbeddings,
            ["hidden_act"] = c.Activation == Activation.GeluTanh ? "gelu_pytorch_tanh" : "silu",
            ["torch_dtype"] = torchDtype,
        };
        json["rope_scaling"] = c.RopeScaling switch
        {
            null => null,
            Llama3RopeScaling s => new JsonObject
            {
                ["rope_type"] = "llama3", ["factor"] = s.Factor, ["low_freq_factor"] = s.LowFreqFactor,
                ["high_freq_factor"] = s.HighFreqFactor, ["original_max_position_embeddings"] = s.OriginalContextLength,
            },
            LinearRopeScaling s => new JsonObject { ["rope_type"] = "linear", ["factor"] = s.Factor },
            LongRopeScaling s => new JsonObject
            {
                ["rope_type"] = "longrope",
                ["short_factor"] = new JsonArray(s.ShortFactors.Select(f => (JsonNode)f).ToArray()),
                ["long_factor"] = new JsonArray(s.LongFactors.Select(f => (JsonNode)f).ToArray()),
            },
            _ => throw new InvalidInputException("this model's RoPE scaling (per-frequency factors, as GGUF stores Llama 3.1's) has no config.json form"),
        };
        if (c.RopeScaling is LongRopeScaling longRope)
            json["original_max_position_embeddings"] = longRope.OriginalContextLength;
        if (type == "gemma2")
        {
            json["query_pre_attn_scalar"] = c.AttentionScale > 0 ? Math.Round(1.0 / (c.AttentionScale * (double)c.AttentionScale), 3) : c.HeadSize;
            json["attn_logit_softcapping"] = c.AttentionSoftCap > 0 ? c.AttentionSoftCap : null;
            json["final_logit_softcapping"] = c.FinalSoftCap > 0 ? c.FinalSoftCap : null;
            json["sliding_window"] = c.SlidingWindow > 0 ? c.SlidingWindow : null;
        }
        if (type == "mistral" && c.SlidingWindow > 0)
            json["sliding_window"] = c.SlidingWindow;
        return json;
    }
}
