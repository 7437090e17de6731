using Minnow.Compression.Quantization;
using Minnow.Models;
using Minnow.Tensors;

namespace Minnow.Formats.Gguf;

/// <summary>
/// Writes a model as GGUF the way llama.cpp's converter does: llama.cpp's tensor names, <c>{arch}.*</c> keys,
/// Llama's q/k rows permuted for adjacent-pair RoPE, Gemma's norms stored as 1+w, 1-D tensors kept F32 and 2-D
/// weights stored as the type the caller chooses per tensor. Tokenizer and chat-template metadata are passed in as
/// key-values.
/// </summary>
public static class GgufModelWriter
{
    /// <summary>Stores a 2-D weight as <c>type</c>: the quantizer (or converter) to use.</summary>
    public delegate Tensor Store(Tensor f32, DType type);

    /// <summary>
    /// Writes <paramref name="model"/> with each tensor in the type <paramref name="mix"/> picks for it, quantizing with
    /// <see cref="Quantizer"/> (what <c>minnow convert --type</c> does).
    /// </summary>
    public static void Write(string path, ILanguageModel model, QuantizationMix mix, IEnumerable<KeyValuePair<string, GgufValue>> extraMetadata,
        string name, Action<string>? written = null) =>
        Write(path, model, (tensor, _, shape) => mix.TypeFor(tensor, shape, model.Config.Layers, model.Config.TiedEmbeddings),
            (t, type) =>
            {
                written?.Invoke(t.Name);
                return t.DType == type ? t : Quantizer.Quantize(t, type);
            }, extraMetadata, name);

    /// <param name="path">The .gguf file to write.</param>
    /// <param name="model">A Llama-family or GPT-2 model.</param>
    /// <param name="typeOf">The stored type of each 2-D weight, from its GGUF name, its layer (or -1) and its shape.</param>
    /// <param name="store">Converts an F32 tensor to a stored type.</param>
    /// <param name="extraMetadata">Tokenizer, chat template and other keys to append.</param>
    /// <param name="name">general.name.</param>
    public static void Write(string path, ILanguageModel model, Func<string, int, int[], DType> typeOf, Store store,
        IEnumerable<KeyValuePair<string, GgufValue>> extraMetadata, string name)
    {
        var c = model.Config;
        var tensors = model switch
        {
            LlamaModel llama => LlamaTensors(c, llama.Weights),
            Gpt2Model gpt2 => Gpt2Tensors(gpt2.Weights),
            _ => throw new InvalidInputException($"{model.GetType().Name} cannot be written as GGUF"),
        };
        var stored = new List<Tensor>();
        foreach (var (tensorName, layer, tensor) in tensors)
        {
            var f32 = TensorConvert.ToF32(tensor).WithName(tensorName);
            var type = f32.Shape.Length >= 2 ? typeOf(tensorName, layer, f32.Shape) : DType.F32;
            stored.Add(type == DType.F32 ? f32 : store(f32, type).WithName(tensorName));
        }
        var metadata = Metadata(c, name, FileType(stored)).Concat(extraMetadata).ToList();
        GgufWriter.Write(path, metadata, stored);
    }

    private static IEnumerable<(string Name, int Layer, Tensor Tensor)> LlamaTensors(ModelConfig c, LlamaWeights w)
    {
        // llama.cpp runs arch "llama" with adjacent-pair RoPE and the others with half-split pairs.
        bool interleave = c.Architecture == "llama" && c.RopeStyle == RopeStyle.Half;
        bool unInterleave = c.Architecture != "llama" && c.RopeStyle == RopeStyle.Interleaved;
        Tensor Rope(Tensor t, int heads) => interleave ? RopeRows.HalfToInterleaved(t, heads) : unInterleave ? RopeRows.InterleavedToHalf(t, heads) : t;
        Tensor RopeVector(Tensor t, int heads) => Rope(t.Reshape(t.Columns, 1), heads).Reshape(t.Columns);
        // Gemma's RMSNorm multiplies by 1+w; GGUF stores 1+w itself.
        Tensor Norm(Tensor t) => c.NormWeightOffset == 0 ? t : TensorConvert.Plus(t, c.NormWeightOffset);

        yield return ("token_embd.weight", -1, w.TokenEmbedding);
        for (int l = 0; l < w.Layers.Length; l++)
        {
            var layer = w.Layers[l];
            string p = $"blk.{l}.";
            yield return (p + "attn_norm.weight", l, Norm(layer.AttentionNorm));
            var wq = Rope(layer.Wq, c.Heads);
            var wk = Rope(layer.Wk, c.KvHeads);
            if (c.Architecture == "phi3")
            {
                yield return (p + "attn_qkv.weight", l, TensorConvert.ConcatenateRows("qkv", wq, wk, layer.Wv));
                yield return (p + "ffn_up.weight", l, TensorConvert.ConcatenateRows("gate_up", layer.WGate, layer.WUp));
            }
            else
            {
                yield return (p + "attn_q.weight", l, wq);
                yield return (p + "attn_k.weight", l, wk);
                yield return (p + "attn_v.weight", l, layer.Wv);
                yield return (p + "ffn_gate.weight", l, layer.WGate);
                yield return (p + "ffn_up.weight", l, layer.WUp);
            }
            if (layer.BiasQ is not null) yield return (p + "attn_q.bias", l, RopeVector(layer.BiasQ, c.Heads));
            if (layer.BiasK is not null) yield return (p + "attn_k.bias", l, RopeVector(layer.BiasK, c.KvHeads));
            if (layer.BiasV is not null) yield return (p + "attn_v.bias", l, layer.BiasV);
            if (layer.QNorm is not null) yield return (p + "attn_q_norm.weight", l, RopeVector(Norm(layer.QNorm), 1));
            if (layer.KNorm is not null) yield return (p + "attn_k_norm.weight", l, RopeVector(Norm(layer.KNorm), 1));
            yield return (p + "attn_output.weight", l, layer.Wo);
            if (layer.PostAttentionNorm is not null) yield return (p + "post_attention_norm.weight", l, Norm(layer.PostAttentionNorm));
            yield return (p + "ffn_norm.weight", l, Norm(layer.FfnNorm));
            yield return (p + "ffn_down.weight", l, layer.WDown);
            if (layer.PostFfnNorm is not null) yield return (p + "post_ffw_norm.weight", l, Norm(layer.PostFfnNorm));
        }
        yield return ("output_norm.weight", -1, Norm(w.FinalNorm));
        if (!ReferenceEquals(w.Output, w.TokenEmbedding))
            yield return ("output.weight", -1, w.Output);
        // Llama 3's scaling is stored as per-frequency divisors, as llama.cpp's converter does.
        var factors = c.RopeScaling switch
        {
            FrequencyFactorRopeScaling f => f.Factors,
            Llama3RopeScaling llama3 => RopeTable.Llama3Factors(c.HeadSize, c.RopeTheta, llama3),
            _ => null,
        };
        if (factors is not null)
            yield return ("rope_freqs.weight", -1, Tensor.FromFloats("rope_freqs.weight", factors.Select(x => (float)x).ToArray(), factors.Length));
        if (c.RopeScaling is LongRopeScaling longRope)
        {
            yield return ("rope_factors_short.weight", -1, Tensor.FromFloats("s", longRope.ShortFactors.Select(x => (float)x).ToArray(), longRope.ShortFactors.Length));
            yield return ("rope_factors_long.weight", -1, Tensor.FromFloats("l", longRope.LongFactors.Select(x => (float)x).ToArray(), longRope.LongFactors.Length));
        }
    }

    private static IEnumerable<(string Name, int Layer, Tensor Tensor)> Gpt2Tensors(Gpt2Weights w)
    {
        yield return ("token_embd.weight", -1, w.TokenEmbedding);
        yield return ("position_embd.weight", -1, w.PositionEmbedding);
        for (int l = 0; l < w.Layers.Length; l++)
        {
            var layer = w.Layers[l];
            string p = $"blk.{l}.";
            yield return (p + "attn_norm.weight", l, layer.Ln1Weight);
            yield return (p + "attn_norm.bias", l, layer.Ln1Bias);
            yield return (p + "attn_qkv.weight", l, layer.Wqkv);
            yield return (p + "attn_qkv.bias", l, layer.Bqkv);
            yield return (p + "attn_output.weight", l, layer.Wo);
            yield return (p + "attn_output.bias", l, layer.Bo);
            yield return (p + "ffn_norm.weight", l, layer.Ln2Weight);
            yield return (p + "ffn_norm.bias", l, layer.Ln2Bias);
            yield return (p + "ffn_up.weight", l, layer.WFc);
            yield return (p + "ffn_up.bias", l, layer.BFc);
            yield return (p + "ffn_down.weight", l, layer.WProj);
            yield return (p + "ffn_down.bias", l, layer.BProj);
        }
        yield return ("output_norm.weight", -1, w.LnFWeight);
        yield return ("output_norm.bias", -1, w.LnFBias);
    }

    private static IEnumerable<KeyValuePair<string, GgufValue>> Metadata(ModelConfig c, string name, int fileType)
    {
        string a = c.Architecture;
        KeyValuePair<string, GgufValue> Kv(string key, GgufValue value) => new(key, value);
        yield return Kv("general.architecture", GgufValue.Of(a));
        yield return Kv("general.name", GgufValue.Of(name));
        yield return Kv("general.file_type", GgufValue.Of((uint)fileType));
        yield return Kv("general.quantization_version", GgufValue.Of(2u));
        yield return Kv($"{a}.context_length", GgufValue.Of((uint)c.ContextLength));
        yield return Kv($"{a}.embedding_length", GgufValue.Of((uint)c.Dim));
        yield return Kv($"{a}.block_count", GgufValue.Of((uint)c.Layers));
        yield return Kv($"{a}.feed_forward_length", GgufValue.Of((uint)c.HiddenDim));
        yield return Kv($"{a}.attention.head_count", GgufValue.Of((uint)c.Heads));
        yield return Kv($"{a}.vocab_size", GgufValue.Of((uint)c.VocabSize));
        if (a == "gpt2")
        {
            yield return Kv($"{a}.attention.layer_norm_epsilon", GgufValue.Of(c.NormEps));
            yield break;
        }
        yield return Kv($"{a}.attention.head_count_kv", GgufValue.Of((uint)c.KvHeads));
        yield return Kv($"{a}.attention.layer_norm_rms_epsilon", GgufValue.Of(c.NormEps));
        yield return Kv($"{a}.rope.freq_base", GgufValue.Of((float)c.RopeTheta));
        yield return Kv($"{a}.rope.dimension_count", GgufValue.Of((uint)c.HeadSize));
        if (c.HeadDim > 0)
        {
            yield return Kv($"{a}.attention.key_length", GgufValue.Of((uint)c.HeadSize));
            yield return Kv($"{a}.attention.value_length", GgufValue.Of((uint)c.HeadSize));
        }
        if (c.AttentionScale > 0)
            yield return Kv($"{a}.attention.scale", GgufValue.Of(c.AttentionScale));
        switch (c.RopeScaling)
        {
            case LinearRopeScaling linear:
                yield return Kv($"{a}.rope.scaling.type", GgufValue.Of("linear"));
                yield return Kv($"{a}.rope.scaling.factor", GgufValue.Of((float)linear.Factor));
                break;
            case LongRopeScaling longRope:
                yield return Kv($"{a}.rope.scaling.original_context_length", GgufValue.Of((uint)longRope.OriginalContextLength));
                break;
        }
        if (a == "gemma2")
        {
            if (c.AttentionSoftCap > 0) yield return Kv("gemma2.attn_logit_softcapping", GgufValue.Of(c.AttentionSoftCap));
            if (c.FinalSoftCap > 0) yield return Kv("gemma2.final_logit_softcapping", GgufValue.Of(c.FinalSoftCap));
            if (c.SlidingWindow > 0) yield return Kv("gemma2.attention.sliding_window", GgufValue.Of((uint)c.SlidingWindow));
        }
    }

    /// <summary>llama.cpp's general.file_type (llama_ftype) for the type most 2-D weights use.</summary>
    private static int FileType(List<Tensor> stored)
    {
        var main = stored.Where(t => t.Shape.Length >= 2).GroupBy(t => t.DType).OrderByDescending(g => g.Count()).FirstOrDefault()?.Key ?? DType.F32;
        return main switch
        {
            DType.F32 => 0, DType.F16 => 1, DType.Q4_0 => 2, DType.Q4_1 => 3, DType.Q8_0 => 7, DType.Q5_0 => 8, DType.Q5_1 => 9,
            DType.Q2_K => 10, DType.Q3_K => 12, DType.Q4_K => 15, DType.Q5_K => 17, DType.Q6_K => 18, DType.BF16 => 32,
            _ => 0,
        };
    }
}
