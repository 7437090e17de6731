namespace Minnow.Models;

/// <summary>How rotary embeddings pair up the dimensions of a head.</summary>
public enum RopeStyle
{
    /// <summary>Adjacent pairs (x[2i], x[2i+1]): llama2.c and GGUF (ggml's "normal" RoPE).</summary>
    Interleaved,
    /// <summary>Halves (x[i], x[i+d/2]): HF's rotate_half (ggml's "neox" RoPE).</summary>
    Half,
}

/// <summary>How RoPE frequencies are stretched for contexts longer than the model was trained on (HF rope_scaling).</summary>
public abstract record RopeScaling;

/// <summary>Llama 3's frequency-dependent RoPE scaling (rope_type "llama3").</summary>
public sealed record Llama3RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalContextLength) : RopeScaling;

/// <summary>Position interpolation (rope_type "linear"): every frequency divided by the factor.</summary>
public sealed record LinearRopeScaling(double Factor) : RopeScaling;

/// <summary>
/// Phi-3's LongRoPE (rope_type "longrope"/"su"): per-frequency divisors — the short factors while the context fits the
/// original training length, the long ones beyond — and cos/sin scaled by sqrt(1 + ln(s)/ln(original)) where
/// s = max positions / original positions.
/// </summary>
public sealed record LongRopeScaling(double[] ShortFactors, double[] LongFactors, int OriginalContextLength) : RopeScaling;

/// <summary>Each frequency divided by its own factor (llama.cpp's rope_freqs tensor, e.g. Llama 3.1 converted to GGUF).</summary>
public sealed record FrequencyFactorRopeScaling(double[] Factors) : RopeScaling;

/// <summary>The nonlinearity of the gated feed-forward layer.</summary>
public enum Activation
{
    /// <summary>silu(gate)·up (SwiGLU: Llama, Qwen, Mistral, Phi-3).</summary>
    Silu,
    /// <summary>gelu_tanh(gate)·up (GeGLU with the tanh approximation: Gemma; also GPT-2's gelu_new, ungated).</summary>
    GeluTanh,
}

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
    public RopeScaling? RopeScaling { get; init; }
    /// <summary>The classifier reuses the token embedding matrix.</summary>
    public bool TiedEmbeddings { get; init; }
    public Activation Activation { get; init; } = Activation.Silu;
    /// <summary>RMSNorm multiplies by (offset + w): Gemma stores w − 1 and uses offset 1.</summary>
    public float NormWeightOffset { get; init; }
    /// <summary>Token embeddings are multiplied by this (Gemma: sqrt(Dim)).</summary>
    public float EmbeddingScale { get; init; } = 1f;
    /// <summary>Multiplies q·k; 0 means 1/sqrt(HeadSize) (Gemma 2 uses query_pre_attn_scalar^-0.5).</summary>
    public float AttentionScale { get; init; }
    /// <summary>If &gt; 0, attention scores become cap·tanh(score/cap) (Gemma 2).</summary>
    public float AttentionSoftCap { get; init; }
    /// <summary>If &gt; 0, logits become cap·tanh(logit/cap) (Gemma 2).</summary>
    public float FinalSoftCap { get; init; }
    /// <summary>If &gt; 0, sliding-window layers attend to the last this-many positions only (Mistral v0.1, Gemma 2).</summary>
    public int SlidingWindow { get; init; }
    /// <summary>Only layers with an even index use the sliding window, the others attend globally (Gemma 2); otherwise all do.</summary>
    public bool SlidingWindowEvenLayersOnly { get; init; }

    /// <summary>The attention score scale actually used.</summary>
    public float EffectiveAttentionScale => AttentionScale > 0 ? AttentionScale : 1f / MathF.Sqrt(HeadSize);

    /// <summary>The sliding window of layer <paramref name="layer"/>, 0 for full attention.</summary>
    public int WindowOfLayer(int layer) => SlidingWindow > 0 && (!SlidingWindowEvenLayersOnly || layer % 2 == 0) ? SlidingWindow : 0;

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
