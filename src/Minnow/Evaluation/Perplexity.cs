using Minnow.Models;
using Minnow.Tokenizers;

namespace Minnow.Evaluation;

/// <summary>How well a model predicts a text.</summary>
/// <param name="MeanLoss">Mean negative log-likelihood, nats per scored token.</param>
/// <param name="Tokens">Tokens scored (every token of the text except the first, which has no context).</param>
/// <param name="Bytes">UTF-8 length of the text.</param>
public sealed record PerplexityResult(double MeanLoss, long Tokens, long Bytes)
{
    public double Perplexity => Math.Exp(MeanLoss);

    /// <summary>Total loss in bits divided by the text's bytes: comparable across tokenizers.</summary>
    public double BitsPerByte => Bytes == 0 ? double.NaN : MeanLoss * Tokens / (Bytes * Math.Log(2));
}

/// <summary>Progress of a perplexity evaluation: tokens scored so far out of the total.</summary>
public readonly record struct PerplexityProgress(long Scored, long Total);

/// <summary>
/// Perplexity of a long text with a sliding window (HF's strided evaluation): windows of the model's context length
/// advance by half a context; the first window scores all its tokens, each later one only the tokens no earlier
/// window scored, so every token is scored exactly once with at least half a context of history.
/// </summary>
public static class Perplexity
{
    public static PerplexityResult Evaluate(ILanguageModel model, ITokenizer tokenizer, string text, int? contextLength = null,
        IProgress<PerplexityProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        int[] ids = tokenizer.Encode(text, addSpecial: true);
        long bytes = System.Text.Encoding.UTF8.GetByteCount(text);
        return Evaluate(model, ids, bytes, contextLength, progress, cancellationToken);
    }

    public static PerplexityResult Evaluate(ILanguageModel model, IReadOnlyList<int> ids, long bytes, int? contextLength = null,
        IProgress<PerplexityProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (ids.Count < 2)
            throw new InvalidInputException($"perplexity needs at least 2 tokens, the text has {ids.Count}");
        int window = Math.Min(contextLength ?? model.Config.ContextLength, model.Config.ContextLength);
        if (window < 2)
            throw new InvalidInputException($"the evaluation window must hold at least 2 tokens, got {window}");
        int stride = Math.Max(1, window / 2);
        int vocab = model.Config.VocabSize;
        var logits = new float[window * vocab];
        var state = model.CreateState(window);
        var tokens = ids as int[] ?? ids.ToArray();
        double total = 0;
        long scored = 0, toScore = tokens.Length - 1;
        int scoredUpTo = 0; // positions < scoredUpTo+1 have been predicted
        for (int begin = 0; scoredUpTo < tokens.Length - 1; begin += stride)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int end = Math.Min(begin + window, tokens.Length);
            state.Rewind(0);
            model.Forward(state, tokens.AsSpan(begin, end - begin), logits, allPositions: true);
            // Position p of the window predicts token begin+p+1; score those not scored yet.
            for (int target = Math.Max(scoredUpTo + 1, begin + 1); target < end; target++)
            {
                int p = target - begin - 1;
                total -= Scorer.LogSoftmaxAt(logits.AsSpan(p * vocab, vocab), tokens[target]);
                scored++;
            }
            scoredUpTo = end - 1;
            progress?.Report(new PerplexityProgress(scored, toScore));
        }
        return new PerplexityResult(total / scored, scored, bytes);
    }
}
