using Minnow.Models;

namespace Minnow.Evaluation;

/// <summary>Log-probabilities of a token sequence under a model: token_logprobs[i] = log P(ids[i+1] | ids[0..i]).</summary>
public sealed record ScoreResult(double[] TokenLogprobs)
{
    public double TotalLogprob => TokenLogprobs.Sum();
    /// <summary>Mean negative log-likelihood in nats per scored token (NaN when nothing was scored).</summary>
    public double MeanNll => TokenLogprobs.Length == 0 ? double.NaN : -TotalLogprob / TokenLogprobs.Length;
    public double Perplexity => Math.Exp(MeanNll);
}

public static class Scorer
{
    /// <summary>Scores <paramref name="ids"/> verbatim (no BOS added) in one batched forward pass.</summary>
    public static ScoreResult Score(ILanguageModel model, IReadOnlyList<int> ids)
    {
        if (ids.Count == 0)
            throw new InvalidInputException("nothing to score: give at least one id");
        if (ids.Count > model.Config.ContextLength)
            throw new ContextLengthException(ids.Count, model.Config.ContextLength);
        int vocab = model.Config.VocabSize;
        var logits = new float[ids.Count * vocab];
        model.Forward(model.CreateState(ids.Count), ids.ToArray(), logits, allPositions: true);
        var result = new double[ids.Count - 1];
        for (int i = 0; i + 1 < ids.Count; i++)
            result[i] = LogSoftmaxAt(logits.AsSpan(i * vocab, vocab), ids[i + 1]);
        return new ScoreResult(result);
    }

    /// <summary>log softmax(logits)[index], computed in float64.</summary>
    public static double LogSoftmaxAt(ReadOnlySpan<float> logits, int index)
    {
        float max = System.Numerics.Tensors.TensorPrimitives.Max(logits);
        double sum = 0;
        foreach (float v in logits)
            sum += Math.Exp(v - max);
        return logits[index] - max - Math.Log(sum);
    }
}
