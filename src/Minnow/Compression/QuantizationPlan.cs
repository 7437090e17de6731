using Minnow.Tensors;

namespace Minnow.Compression;

/// <summary>
/// Which stored type each weight of a converted model gets, as llama.cpp's quantizer chooses: a single type for the
/// plain schemes, and for Q4_K_M the mix of Q4_K and Q6_K (the classifier — or the tied embedding that serves as
/// one — and, in the first and last eighths of the layers and every third layer between, attn_v and ffn_down get
/// Q6_K). Rows whose length is not a multiple of 256 cannot hold K-quant blocks and fall back to a 32-block type.
/// </summary>
public sealed class QuantizationPlan
{
    /// <summary>The names <c>--type</c> accepts.</summary>
    public static readonly string[] Names = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q6_k", "q4_k_m"];

    private readonly DType _main;
    private readonly bool _mixed;

    public string Name { get; }

    private QuantizationPlan(string name, DType main, bool mixed)
    {
        Name = name;
        _main = main;
        _mixed = mixed;
    }

    public static QuantizationPlan Parse(string name) => name.ToLowerInvariant() switch
    {
        "f32" => new(name, DType.F32, false),
        "f16" => new(name, DType.F16, false),
        "bf16" => new(name, DType.BF16, false),
        "q8_0" => new(name, DType.Q8_0, false),
        "q4_0" => new(name, DType.Q4_0, false),
        "q4_1" => new(name, DType.Q4_1, false),
        "q5_0" => new(name, DType.Q5_0, false),
        "q5_1" => new(name, DType.Q5_1, false),
        "q4_k" => new(name, DType.Q4_K, false),
        "q6_k" => new(name, DType.Q6_K, false),
        "q4_k_m" => new(name, DType.Q4_K, true),
        _ => throw new InvalidInputException($"unknown type '{name}' (expected one of {string.Join(", ", Names)})"),
    };

    /// <summary>The type of a 2-D weight, from its GGUF name, its layer (-1 outside layers), the layer count, its row length and whether the model has a separate classifier.</summary>
    public DType TypeOf(string ggufName, int layer, int layers, int rowLength, bool hasOutput)
    {
        var type = _main;
        if (_mixed)
        {
            bool classifier = ggufName == "output.weight" || (!hasOutput && ggufName == "token_embd.weight");
            bool moreBits = layer >= 0 && (ggufName.EndsWith("attn_v.weight", StringComparison.Ordinal) || ggufName.EndsWith("ffn_down.weight", StringComparison.Ordinal))
                && UseMoreBits(layer, layers);
            if (classifier || moreBits)
                type = DType.Q6_K;
        }
        return rowLength % type.BlockSize() == 0 ? type : Fallback(type, rowLength);
    }

    /// <summary>llama.cpp's use_more_bits: the first and last eighth of the layers, and every third layer in between.</summary>
    private static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    /// <summary>The 32-element block type llama.cpp uses when a row cannot be split into 256-element K-quant blocks.</summary>
    public static DType Fallback(DType type, int rowLength)
    {
        var fallback = type switch
        {
            DType.Q2_K or DType.Q3_K => DType.Q4_0,
            DType.Q4_K => DType.Q5_0,
            DType.Q5_K => DType.Q5_1,
            DType.Q6_K => DType.Q8_0,
            _ => type,
        };
        if (rowLength % fallback.BlockSize() != 0)
            fallback = DType.F16;
        return fallback;
    }
}
