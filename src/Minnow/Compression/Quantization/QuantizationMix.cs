using Minnow.Tensors;

namespace Minnow.Compression.Quantization;

/// <summary>
/// The storage type of each tensor when a whole model is converted to one of the <c>minnow convert --type</c> names:
/// a plain type (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q6_k) puts every matrix in that type, and
/// q4_k_m mixes Q4_K with Q6_K as llama.cpp's llama_tensor_get_type does (Q6_K for the classifier, and for attn_v and
/// ffn_down in the first and last eighth of the layers and every third layer between). Vectors (norms, biases) stay
/// F32, and rows that are not whole blocks take llama.cpp's fallback (<see cref="Quantizer.FallbackFor"/>).
/// Tensor names are GGUF's (<c>token_embd.weight</c>, <c>blk.{i}.attn_v.weight</c>, <c>output.weight</c> …).
/// </summary>
public sealed record QuantizationMix(string Name, DType BaseType, bool MediumMix = false)
{
    public static readonly IReadOnlyList<string> Names = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q6_k", "q4_k_m"];

    /// <summary>The mix for a <c>--type</c> name (case-insensitive).</summary>
    public static QuantizationMix Parse(string name) => name.ToLowerInvariant() switch
    {
        "q4_k_m" => new("q4_k_m", DType.Q4_K, MediumMix: true),
        var n when Names.Contains(n) => new(n, Enum.Parse<DType>(n, ignoreCase: true)),
        _ => throw new InvalidInputException($"unknown quantization type '{name}' (expected one of {string.Join(", ", Names)})"),
    };

    /// <summary>
    /// The type for tensor <paramref name="name"/> of shape [rows, columns] in a model of <paramref name="layers"/>
    /// layers; <paramref name="tiedEmbeddings"/> when token_embd is also the classifier (no output.weight).
    /// </summary>
    public DType TypeFor(string name, int[] shape, int layers, bool tiedEmbeddings)
    {
        if (shape.Length < 2 || name.Contains("position_embd", StringComparison.Ordinal))
            return DType.F32;
        var type = BaseType;
        if (MediumMix)
        {
            bool classifier = name == "output.weight" || (tiedEmbeddings && name == "token_embd.weight");
            if (classifier)
                type = shape[^1] % BaseType.BlockSize() == 0 ? DType.Q6_K : DType.Q8_0;
            else if ((name.EndsWith(".attn_v.weight", StringComparison.Ordinal) || name.EndsWith(".attn_qkv.weight", StringComparison.Ordinal)
                     || name.EndsWith(".ffn_down.weight", StringComparison.Ordinal)) && MoreBits(Layer(name), layers))
                type = DType.Q6_K;
        }
        return Quantizer.FallbackFor(type, shape[^1]);
    }

    /// <summary>llama.cpp's use_more_bits: the first and last eighth of the layers, and every third layer in between.</summary>
    private static bool MoreBits(int layer, int layers) => layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    private static int Layer(string name)
    {
        var parts = name.Split('.');
        return parts.Length > 2 && parts[0] == "blk" && int.TryParse(parts[1], out int layer)
            ? layer
            : throw new InvalidInputException($"cannot tell the layer of tensor '{name}'");
    }
}
