namespace Minnow.Models;

/// <summary>How rotary embeddings pair up the dimensions of a head.</summary>
public enum RopeStyle
{
    /// <summary>Adjacent pairs (x[2i], x[2i+1]): llama2.c and GGUF (ggml's "normal" RoPE).</summary>
    Interleaved,
    /// <summary>Halves (x[i], x[i+d/2]): HF's rotate_half (ggml's "neox" RoPE).</summary>
    Half,
}

/// <summary>Llama 3's frequency-dependent RoPE scaling (rope_scaling.rope_type == "llama3").</summary>
public sealed record Llama3RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalContextLength);

/// <summary>
/// The shape and hyper-parameters of a transformer, read from the model file's own metadata
/// (llama2.c header, HF config.json, GGUF keys). Defaults live here and only here.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Family name as Minnow knows it: "llama", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "gpt2"…</summary>
    public string Architecture { get; init; } = "llama";
    public required int Dim { get; init; }
    public required int HiddenDim { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int VocabSize { get; init; }
    /// <summary>Maximum positions (the KV cache's length).</summary>
    public required int ContextLength { get; init; }
    /// <summary>Per-head width; 0 means Dim / Heads.</summary>
    public int HeadDim { get; init; }
    public float NormEps { get; init; } = 1e-5f;
    public double RopeTheta { get; init; } = 10000.0;
    public RopeStyle RopeStyle { get; init; } = RopeStyle.Interleaved;
    public Llama3RopeScaling? RopeScaling { get; init; }
    /// <summary>The classifier reuses the token embedding matrix.</summary>
    public bool TiedEmbeddings { get; init; }

    public int HeadSize => HeadDim > 0 ? HeadDim : Dim / Heads;
    public int QueryDim => Heads * HeadSize;
    public int KvDim => KvHeads * HeadSize;

    /// <summary>Checks the numbers make a model; <paramref name="source"/> names the file in the error.</summary>
    public void Validate(string? source)
    {
        void Require(bool ok, string what)
        {
            if (!ok)
                throw new ModelFormatException(source, $"invalid model configuration: {what}");
        }
        Require(Dim > 0, $"dim must be positive (got {Dim})");
        Require(HiddenDim > 0, $"hidden dim must be positive (got {HiddenDim})");
        Require(Layers > 0, $"layer count must be positive (got {Layers})");
        Require(Heads > 0, $"head count must be positive (got {Heads})");
        Require(KvHeads > 0, $"kv head count must be positive (got {KvHeads})");
        Require(VocabSize > 0, $"vocabulary size must be positive (got {VocabSize})");
        Require(ContextLength > 0, $"context length must be positive (got {ContextLength})");
        Require(HeadDim > 0 || Dim % Heads == 0, $"dim {Dim} is not divisible by {Heads} heads");
        Require(Heads % KvHeads == 0, $"{Heads} heads cannot be shared by {KvHeads} kv heads");
        Require(HeadSize % 2 == 0, $"head size {HeadSize} must be even for rotary embeddings");
    }
}
