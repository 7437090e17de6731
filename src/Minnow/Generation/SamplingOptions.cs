namespace Minnow.Generation;

/// <summary>
/// How the next token is chosen from the logits. Temperature 0 means greedy (argmax). Filters apply in HF's
/// order: penalties, temperature, top-k, top-p, min-p; disabled values are 0 (top-k, min-p) and 1 (top-p, repeat penalty).
/// </summary>
public sealed record SamplingOptions
{
    public float Temperature { get; init; } = 0.8f;
    public int TopK { get; init; }
    public float TopP { get; init; } = 1f;
    public float MinP { get; init; }
    /// <summary>Divides positive (multiplies negative) logits of tokens seen in the last <see cref="RepeatLastN"/> tokens (CTRL / llama.cpp style).</summary>
    public float RepeatPenalty { get; init; } = 1f;
    public int RepeatLastN { get; init; } = 64;
    /// <summary>OpenAI's penalties: logit −= count·frequency + (count &gt; 0)·presence, over the generated tokens.</summary>
    public float FrequencyPenalty { get; init; }
    public float PresencePenalty { get; init; }
    /// <summary>Seed of the sampling random generator; the same seed gives the same tokens.</summary>
    public ulong Seed { get; init; } = 42;

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };

    public bool IsGreedy => Temperature <= 0;

    /// <summary>Throws <see cref="InvalidInputException"/> for values out of range.</summary>
    public void Validate()
    {
        if (float.IsNaN(Temperature) || Temperature < 0) throw new InvalidInputException($"temperature must be ≥ 0, got {Temperature}");
        if (TopK < 0) throw new InvalidInputException($"top-k must be ≥ 0, got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new InvalidInputException($"top-p must be in (0, 1], got {TopP}");
        if (!(MinP >= 0 && MinP <= 1)) throw new InvalidInputException($"min-p must be in [0, 1], got {MinP}");
        if (!(RepeatPenalty > 0)) throw new InvalidInputException($"repeat penalty must be > 0, got {RepeatPenalty}");
        if (RepeatLastN < 0) throw new InvalidInputException($"repeat-last-n must be ≥ 0, got {RepeatLastN}");
    }
}
